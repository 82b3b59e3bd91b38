"""Root fixtures: a throwaway PostgreSQL database, a Redis key prefix and a Temporal dev server per test run.

Every test run is isolated from any other (parallel runs on one machine do not collide): its own database,
its own Redis key prefix, its own Temporal server on a free port. Tests isolate from each other by tenant.
"""

import os
import sys

import pytest

pytest_plugins = [
    "tests.fixtures.calls",
    "tests.fixtures.dispatcher",
    "tests.fixtures.infra",
    "tests.fixtures.crm",
    "tests.fixtures.outage",
    "tests.fixtures.sandbox",
    "tests.fixtures.sequences",
    "tests.fixtures.web",
    "tests.fixtures.whatsapp",
    "tests.fixtures.worker",
    "tests.fixtures.ai",  # last: it builds on the fixtures above
]

_exit_status = 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Schemathesis names each of its tests by operation (`...[GET /healthz]`) but gives them all the test function's
    node id. `./run test` hands tests to its processes by node id, which would run one operation of them all: each
    such test's node id gets its name's operation."""
    for item in items:
        if not isinstance(item, pytest.Function) or "[" in item.nodeid or not item.name.endswith("]"):
            continue
        params = item.name.removeprefix(f"{item.originalname}[").removesuffix("]")
        item._id = item._id.with_params(params)  # type: ignore[attr-defined]  # pytest keeps the id here


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # temporalio can abort in PyGILState_Release at interpreter exit (sdk-python#300): leave without finalisers.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
