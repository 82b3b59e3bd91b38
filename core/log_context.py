"""The ids every log line of the current request, activity or event carries: request, tenant, lead, workflow.

One mutable `LogContext` per unit of work is held in a context variable. Code deeper down fills it in
(`current().update(tenant_id=...)` once the caller is known) and the enclosing code sees the change: a context
variable *set* inside an awaited dependency may live in a copied context, a mutated object does not.
"""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any

FIELDS = ("request_id", "tenant_id", "lead_id", "workflow_id", "run_id", "activity", "user_id")


@dataclass
class LogContext:
    request_id: str | None = None
    tenant_id: str | None = None
    lead_id: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None
    activity: str | None = None
    user_id: str | None = None

    def update(self, **ids: Any) -> None:
        """Set the given ids (stringified; None leaves an id as it is)."""
        known = {f.name for f in fields(self)}
        for name, value in ids.items():
            if name in known and value is not None:
                setattr(self, name, str(value))

    def items(self) -> dict[str, str]:
        return {name: value for name, value in asdict(self).items() if value is not None}


_current: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar("leadflow_log_context", default=None)


def current() -> LogContext:
    """The context of the running unit of work (a detached empty one outside any)."""
    return _current.get() or LogContext()


@contextmanager
def bound(**ids: Any) -> Iterator[LogContext]:
    """A fresh context for one unit of work, holding `ids`, for the duration of the block."""
    context = LogContext()
    context.update(**ids)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
