"""`python -m api [uvicorn options]`: check the settings, then serve `api.app:create_app` with uvicorn.

The check runs once, before uvicorn starts: with `--workers N` each worker process builds the app itself, and a
worker refused by its settings is restarted by uvicorn's supervisor forever instead of the API stopping with a
reason. Every uvicorn option passes through (`--host`, `--port`, `--workers`, `--no-proxy-headers`, ...).
"""

import sys

import uvicorn

from core.config import get_settings


def main() -> None:
    get_settings()  # exits saying what to fix (ConfigurationError) when the settings are refused
    sys.argv = ["uvicorn", "api.app:create_app", "--factory", *sys.argv[1:]]
    uvicorn.main()


if __name__ == "__main__":
    main()
