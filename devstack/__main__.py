"""`python -m devstack up | bootstrap`.

up         the whole system on this machine, in the foreground (see devstack/stack.py); Ctrl-C stops it.
bootstrap  against the configured services (production, docker-compose): migrate the database to head, create the
           first system_admin from settings, and make sure the Temporal namespace, search attributes and the
           sweeper's schedule exist.
"""

import argparse
import asyncio
import os
import sys
from datetime import timedelta

from core.config import Settings, get_settings


def _bootstrap(settings: Settings) -> int:
    from devstack.seed import bootstrap
    from devstack.temporal_setup import prepare_cluster

    if not settings.database_url:
        print("error: LEADFLOW_DATABASE_URL is not set", file=sys.stderr)
        return 2
    asyncio.run(bootstrap(settings))
    print(f"database at head; system admin {settings.bootstrap_admin_email} present", flush=True)
    sweep_every = timedelta(seconds=settings.job_sweep_interval_seconds)
    prepared = prepare_cluster(settings.temporal_address, settings.temporal_namespace, sweep_every=sweep_every)
    print(asyncio.run(prepared), flush=True)
    return 0


def _up(settings: Settings) -> int:
    from devstack.stack import up

    return asyncio.run(up(settings))


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "bootstrap"])
    args = parser.parse_args()
    settings = get_settings()
    return _up(settings) if args.command == "up" else _bootstrap(settings)


if __name__ == "__main__":
    code = main()
    # The Temporal SDK's runtime can abort at interpreter exit (sdk-python#300): flush and leave without finalisers.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
