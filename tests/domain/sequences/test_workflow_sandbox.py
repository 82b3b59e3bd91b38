"""The schedule runs inside the Temporal workflow sandbox and the workflow's timers land where the preview says.

A 14-day sequence under the time-skipping test server: the workflow plans each step from `workflow.now()`, sleeps
until it, and records when it acted; the preview from the same start must list the same instants and texts.
The history then replays without non-determinism.
"""

import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from core.config import Settings
from core.payload_codec import data_converter as leadflow_data_converter
from domain.sequences.definition import parse_definition
from domain.sequences.preview import preview
from tests.domain.sequences.probe_workflow import ProbeInput, ProbeResult, SequenceSchedulePlanProbe
from tests.domain.sequences.test_preview import FOURTEEN_DAYS, LEAD

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=leadflow_data_converter(Settings())
    )
    try:
        yield env
    finally:
        await env.shutdown()


# Re-imported in every workflow run (the default), and passed through the sandbox (what a worker with thousands of
# sleeping enrollments should do: `domain` is pure, so one shared copy is safe and saves a copy per run).
SANDBOXED = SandboxedWorkflowRunner()
PASSED_THROUGH = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules("domain"))


@pytest.mark.parametrize(
    ("lead_timezone", "runner"),
    [
        ("Europe/London", SANDBOXED),
        ("America/Los_Angeles", SANDBOXED),
        ("Asia/Jerusalem", SANDBOXED),
        ("Asia/Kolkata", SANDBOXED),
        ("America/New_York", PASSED_THROUGH),
    ],
)
async def test_workflow_follows_the_preview_in_the_sandbox(
    time_skipping_env: WorkflowEnvironment, lead_timezone, runner
):
    definition = parse_definition(FOURTEEN_DAYS)
    queue = f"sequence-probe-{uuid.uuid4().hex[:8]}"
    workflow_id = f"sequence-probe:{lead_timezone}:{uuid.uuid4().hex[:8]}"
    worker = Worker(
        time_skipping_env.client, task_queue=queue, workflows=[SequenceSchedulePlanProbe], workflow_runner=runner
    )
    async with worker:
        handle = await time_skipping_env.client.start_workflow(
            SequenceSchedulePlanProbe.run,
            ProbeInput(definition=definition, lead_timezone=lead_timezone, lead_fields=LEAD),
            id=workflow_id,
            task_queue=queue,
            result_type=ProbeResult,
        )
        result = await handle.result()

    expected = preview(definition, start_at=result.started_at, lead_timezone=lead_timezone, lead_fields=LEAD)
    assert [s.id for s in result.steps] == [row.id for row in expected]
    assert [_iso(s.planned_fire_at) for s in result.steps] == [row.fire_at_utc for row in expected]
    # Each timer fired when planned, in workflow time (never early; late only by the workflow task's latency).
    lateness = [s.fired_at - s.planned_fire_at for s in result.steps]
    assert all(timedelta(0) <= late < timedelta(seconds=5) for late in lateness), lateness
    assert [s.text for s in result.steps] == [row.text if row.type == "send_whatsapp" else None for row in expected]
    assert result.steps[-1].fired_at - result.started_at > timedelta(days=13)  # two weeks, skipped in seconds

    history: WorkflowHistory = await handle.fetch_history()
    replay = await Replayer(
        workflows=[SequenceSchedulePlanProbe], data_converter=leadflow_data_converter(Settings())
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert replay.replay_failure is None


def _iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")
