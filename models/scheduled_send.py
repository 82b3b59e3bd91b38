"""A sequence send written ahead of its time, for the scheduled-send drain (worker/send_drain.py).

An enrollment whose next step is a send writes the whole due send (`DueSend`: the message, the cap reservation, the
step rows and the enrollment row as they will be after it) here when it plans the step, then sleeps past it. The
drain claims due rows in batches, fair between tenants, and sends them as the `sequence.send_message` activity
would, without waking the enrollment's workflow. The workflow reads the outcome when it next wakes
(`sequence.settle_scheduled_send`); an outcome other than a plain send also wakes it with a signal.

States: `scheduled` (waiting for `due_at`) -> `sending` (claimed by a drain until `lease_until`; an expired lease is
claimed again, and the send's outbox key keeps a second attempt from sending twice) -> `done` (`outcome` holds what
happened; `signal_due` while its workflow must still be told), or `cancelled` (the workflow took it back before a
drain claimed it: an exit, a pause).
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class ScheduledSend(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "scheduled_send"
    __table_args__ = (
        Index("ix_scheduled_send_open_due", "due_at", postgresql_where=text("state IN ('scheduled', 'sending')")),
        Index("ix_scheduled_send_signal_due", "settled_at", postgresql_where=text("signal_due")),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    enrollment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enrollment.id", ondelete="CASCADE"), index=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    # The send's outbox idempotency key (`<workflow id>:step:<step id>:<n>`): one row per step execution.
    key: Mapped[str] = mapped_column(String(300), unique=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When it fell due as written ahead (again): a retry moves `due_at`, never this, so a send throttled for good
    # gives up this long after it first fell due. None: written by a worker of the release before it (`due_at` then).
    first_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Wake the workflow with a signal once settled, even after a plain send (it has nothing else to wake it soon).
    signal_when_settled: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(20), server_default="scheduled")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Settled, and its workflow still to be signalled (cleared once told, or once it read the outcome itself): a drain
    # that died between settling and signalling leaves it to the next drain.
    signal_due: Mapped[bool] = mapped_column(server_default=false())
