"""`python -m api [uvicorn options]`: check the settings, then serve `api.app:create_app` with uvicorn.

The check runs once, before uvicorn starts: with `--workers N` each worker process builds the app itself, and a
worker refused by its settings is restarted by uvicorn's supervisor forever instead of the API stopping with a
reason. Logging is core/logging.py's. Every uvicorn option passes through (`--host`, `--port`, `--workers`,
`--no-proxy-headers`, ...).
"""

import os
import shutil
import sys
from pathlib import Path

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
    if settings.metrics_multiproc_dir:
        # prometheus_client reads this variable when first imported, in each worker process uvicorn spawns; samples
        # of an earlier run would otherwise be added to this one's.
        shutil.rmtree(settings.metrics_multiproc_dir, ignore_errors=True)
        Path(settings.metrics_multiproc_dir).mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = settings.metrics_multiproc_dir  # ssot: allow (a write, for uvicorn)
    sys.argv = ["uvicorn", "api.app:create_app", "--factory", *sys.argv[1:]]
    uvicorn.main()


if __name__ == "__main__":
    main()
