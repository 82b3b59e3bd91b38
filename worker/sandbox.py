"""The SDK's workflow sandbox, loading workflow modules with Python's cyclic garbage collector held off.

On Python 3.11 a module's import lock is not re-entrant (CPython gh-91351). When a collection runs while the sandbox is
taking such a lock, and a finalizer it runs imports a module that has to be loaded, the outer import fails with
`KeyError: <thread id>`. A worker being built reports that as "Failed validating workflow ..." and never starts
(sdk-python#585); a workflow instance being built fails its workflow task. Seen once in a CI run of this suite. Holding
the collector off while the sandbox loads a workflow's modules closes that window; whatever cycles become garbage
meanwhile go at the next collection. tests/worker/test_sandbox.py provokes the failure and shows the pause prevents it.
"""

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import temporalio.workflow
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

_pause_lock = threading.Lock()
_pauses = 0
_collector_was_on = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection in any thread until every overlapping pause (from any thread) has ended."""
    global _pauses, _collector_was_on
    with _pause_lock:
        if _pauses == 0:
            _collector_was_on = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _collector_was_on:
                gc.enable()


@dataclass(frozen=True)
class CollectorPausedSandbox(SandboxedWorkflowRunner):
    """The sandbox, building each workflow instance (and so importing its modules) with the collector paused."""

    def prepare_workflow(self, defn: temporalio.workflow._Definition) -> None:
        with collector_paused():
            super().prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        with collector_paused():
            return super().create_instance(det)
