"""The request's transaction: the one place that commits, and the work that must follow the commit.

Services write through repositories and never commit. Work that needs the committed rows (start or signal a
workflow: it reads them) is registered with `after_commit`; the request's session dependency (api/deps.py) commits
when the route has returned, then runs that work in order, committing what each one wrote (a lead marked started).
A failure of that work answers 503 with the message it was registered with (the rows stay saved, and the message
says how to finish), or, registered without one, is only logged (a sweeper finishes it).

A service that waits for a workflow's answer (an update) calls `end_reads` first, so that no pooled connection
sits idle in a transaction while the workflow works; one that records an intent the workers act on before the
workflow answers (a stop of an enrollment) calls `commit_intent` instead.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError, ServiceUnavailable

log = logging.getLogger(__name__)

_PENDING = "leadflow.after_commit"
RETRY_AFTER = {"Retry-After": "5"}


@dataclass(frozen=True)
class AfterCommit:
    run: Callable[[], Awaitable[None]]
    failure: str | None  # the 503's message when `run` fails; None: logged only
    details: Mapping[str, Any] = field(default_factory=dict)


def after_commit(
    session: AsyncSession,
    run: Callable[[], Awaitable[None]],
    *,
    failure: str | None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Run `run` once the request's transaction has committed (in registration order)."""
    session.info.setdefault(_PENDING, []).append(AfterCommit(run=run, failure=failure, details=details or {}))


async def end_reads(session: AsyncSession) -> None:
    """End a transaction that only read, before waiting on a workflow. The rows read stay usable (the session does
    not expire them); anything the request reads later starts a new transaction."""
    if session.new or session.dirty or session.deleted or session.info.get(_PENDING):
        raise RuntimeError("end_reads() on a transaction that writes: let the request's dependency commit it")
    await session.commit()


async def commit_intent(session: AsyncSession) -> None:
    """Commit what the request wrote so far before waiting on a workflow: a person's intent the workers read at once
    (a stop or pause of an enrollment, which its sends check) must not wait for the workflow's answer. No work may be
    registered to follow the commit yet: it runs only after the request's own commit."""
    if session.info.get(_PENDING):
        raise RuntimeError("commit_intent() with work registered after the commit: let the dependency commit")
    await session.commit()


async def commit_request(session: AsyncSession) -> None:
    """Commit the request's transaction, then run the work registered for after it (see the module docstring)."""
    await session.commit()
    while pending := session.info.pop(_PENDING, None):
        for work in pending:
            try:
                await work.run()
            except Exception as exc:
                if isinstance(exc, AppError) and not isinstance(exc, ServiceUnavailable):
                    raise
                log.warning("work after the commit failed: %s", (str(exc).splitlines() or [""])[0])
                if work.failure is not None:
                    raise ServiceUnavailable(work.failure, details=dict(work.details), headers=RETRY_AFTER) from exc
            if session.in_transaction():
                await session.commit()


def discard_pending(session: AsyncSession) -> None:
    """Forget registered work: the transaction it was to follow rolled back."""
    session.info.pop(_PENDING, None)
