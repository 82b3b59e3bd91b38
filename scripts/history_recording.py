"""What the scripts recording workflow histories for the replay tests share (`scripts/record_*histories.py`).

Each script runs the current workflow code on a throwaway Temporal server through its scenarios and writes each
run's history as JSON under tests/workflows/histories/, where a replay test replays it against the workflow code.
The activities are stand-ins with the real names and types (a history holds only their results), so no database,
Redis or provider is needed. Re-record only for a deliberate, versioned change (workflow.patched) or a new
scenario, and keep the files of histories recorded on earlier code.
"""

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from temporalio import activity
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from worker.main import workflow_runner  # noqa: E402
from workflows import search_attributes  # noqa: E402

HISTORIES = ROOT / "tests" / "workflows" / "histories"
ScenarioT = TypeVar("ScenarioT", bound=Callable[..., Any])
_BIN = Path(sys.executable).parent


def stand_in(name: str, result: Any = None) -> Callable[[Any], Awaitable[Any]]:
    """An activity named `name` that ignores its input and returns `result`."""

    async def run(data: Any) -> Any:
        return result

    run.__name__ = run.__qualname__ = name.replace(".", "_")
    return activity.defn(name=name)(run)


async def dev_server() -> WorkflowEnvironment:
    """A local Temporal dev server (real timers) that knows the project's search attributes."""
    return await WorkflowEnvironment.start_local(
        namespace="default",
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(_BIN / "temporal"),
        search_attributes=search_attributes.ALL,
        ui=False,
        dev_server_log_level="error",
    )


async def time_skipping_server() -> WorkflowEnvironment:
    """A time-skipping test server (timers fire when the workflows wait) that knows the search attributes."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(_BIN / "temporal-test-server"), data_converter=pydantic_data_converter
    )
    keyword = IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace, search_attributes={k.name: keyword for k in search_attributes.ALL}
        )
    )
    return env


@asynccontextmanager
async def running(
    server: Callable[[], Awaitable[WorkflowEnvironment]],
    *,
    task_queue: str,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
) -> AsyncIterator[WorkflowEnvironment]:
    """The server with a worker of the workflows and stand-in activities polling `task_queue`; shut down after."""
    env = await server()
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=workflows,
            activities=activities,
            workflow_runner=workflow_runner(),
        ):
            yield env
    finally:
        await env.shutdown()


def selected(scenarios: Sequence[ScenarioT], names: set[str] | None) -> list[ScenarioT]:
    """The scenarios named in `names` (from the command line), or all of them when none are named."""
    return [scenario for scenario in scenarios if not names or scenario.__name__ in names]


async def until(check: Callable[[], Awaitable[bool]], within: float = 30.0, every: float = 0.1) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("scenario did not reach its state")
        await asyncio.sleep(every)


async def write_history(handle: WorkflowHandle, path: Path) -> Path:
    return _save((await handle.fetch_history()).to_json(), path)


def _save(history_json: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json.loads(history_json), indent=1) + "\n")
    return path


def run(record: Coroutine[Any, Any, list[Path]]) -> None:
    """Run a script's recording and list the files it wrote."""
    for path in asyncio.run(record):
        print(path.relative_to(ROOT))
    sys.stdout.flush()
    os._exit(0)  # temporalio can abort in finalisers at interpreter exit (sdk-python#300)
