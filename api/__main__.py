"""`python -m api [uvicorn options]`: check the settings, then serve `api.app:create_app` with uvicorn.

The check runs once, before uvicorn starts: with `--workers N` each worker process builds the app itself, and a
worker refused by its settings is restarted by uvicorn's supervisor forever instead of the API stopping with a
reason. Logging is core/logging.py's. Every uvicorn option passes through (`--host`, `--port`, `--workers`,
`--no-proxy-headers`, ...).
"""

import sys

import uvicorn
import uvicorn.config

from core.config import get_settings
from core.logging import logging_config


def main() -> None:
    settings = get_settings()  # exits saying what to fix (ConfigurationError) when the settings are refused
    # uvicorn applies its default logging config in every worker process; it becomes ours (JSON, redacted), unless
    # `--log-config` names another.
    uvicorn.config.LOGGING_CONFIG.clear()
    uvicorn.config.LOGGING_CONFIG.update(logging_config(settings))
    sys.argv = ["uvicorn", "api.app:create_app", "--factory", *sys.argv[1:]]
    uvicorn.main()


if __name__ == "__main__":
    main()
