"""`python -m sandbox [--host H] [--port N] [--base-url URL]`: run the provider sandbox in its own process."""

import argparse

import uvicorn

from core.config import ConfigurationError, get_settings
from sandbox.app import create_app
from sandbox.config import SandboxConfig


def main() -> None:
    settings = get_settings()
    if not settings.sandbox_allowed:
        raise ConfigurationError("the provider sandbox does not run when LEADFLOW_ENV=prod: its secrets are built in")
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default=settings.sandbox_host)
    parser.add_argument("--port", type=int, default=settings.sandbox_port)
    parser.add_argument("--base-url", default=None, help="the URL clients reach this sandbox at")
    args = parser.parse_args()
    base_url = args.base_url or f"http://{args.host}:{args.port}"
    config = SandboxConfig.from_settings(settings, base_url=base_url)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=settings.log_level.lower())


if __name__ == "__main__":
    main()
