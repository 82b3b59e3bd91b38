"""Workers build in the sandbox even when a garbage collection's finalizer imports a module mid-load.

The failure CI met once (a worker's "Failed validating workflow CallWorkflow"), made to happen every time: a garbage
cycle is always pending, its finalizer loads a module nobody has loaded yet, and the collector runs at nearly every
allocation. The SDK's own sandbox fails under that; the workers' sandbox (worker/sandbox.py) does not.
"""

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.worker import WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.workflow import _Definition

from worker.main import SANDBOX_PASSTHROUGH, WORKFLOWS, workflow_runner
from worker.sandbox import collector_paused

FINALIZER_MODULE = "loaded_by_a_finalizer"


class _LoadsOnFinalize:
    """A cycle whose finalizer loads a module (and forgets it, so that the next one loads it again), then leaves a
    cycle like itself behind."""

    loaded = 0
    active = True

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        if not _LoadsOnFinalize.active:
            return
        _LoadsOnFinalize.loaded += 1
        try:
            __import__(FINALIZER_MODULE)
            del sys.modules[FINALIZER_MODULE]
        except Exception:  # what it breaks is the import it interrupted, which reports it
            pass
        _LoadsOnFinalize()


@pytest.fixture
def finalizer_loads_modules(tmp_path: Path) -> Iterator[None]:
    (tmp_path / f"{FINALIZER_MODULE}.py").write_text("LOADED = True\n")
    sys.path.insert(0, str(tmp_path))
    threshold = gc.get_threshold()
    _LoadsOnFinalize.loaded, _LoadsOnFinalize.active = 0, True
    _LoadsOnFinalize()
    gc.set_threshold(1)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        _LoadsOnFinalize.active = False
        gc.collect()
        sys.path.remove(str(tmp_path))
        sys.modules.pop(FINALIZER_MODULE, None)


def _validation_failures(runner: WorkflowRunner) -> list[str]:
    failures = []
    for workflow in WORKFLOWS:
        try:
            runner.prepare_workflow(_Definition.must_from_class(workflow))
        except Exception as error:
            failures.append(f"{workflow.__name__}: {error!r}")
    return failures


@pytest.mark.usefixtures("finalizer_loads_modules")
async def test_the_workers_sandbox_builds_every_workflow_while_finalizers_import() -> None:
    assert _validation_failures(workflow_runner()) == []
    assert _LoadsOnFinalize.loaded > 0, "no finalizer ran: the test provoked nothing"


@pytest.mark.usefixtures("finalizer_loads_modules")
async def test_the_sdks_own_sandbox_fails_the_same_build() -> None:
    """The hazard the pause is for. Should an SDK or Python release fix it, this fails: the pause can then go."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*SANDBOX_PASSTHROUGH)
    plain = SandboxedWorkflowRunner(restrictions=restrictions)
    assert _validation_failures(plain) != []


def test_overlapping_pauses_turn_the_collector_back_on_only_after_the_last() -> None:
    assert gc.isenabled()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
