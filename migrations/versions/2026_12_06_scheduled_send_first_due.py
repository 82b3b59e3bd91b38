"""scheduled_send.first_due_at: when the send first fell due, the clock a throttled send gives up by

A throttled or failed drain send is put back by moving `due_at`; measuring the give-up limit from `due_at` restarted
it at every attempt, so a send throttled for good was retried for ever. `first_due_at` is set when the send is
written ahead (again) and never moved by a retry. Existing rows take their `due_at`; rows of a worker of the
release before have none, and the drain measures them from `due_at` as before.

Revision ID: 0033_scheduled_send_first_due
Revises: 0032_scheduled_send_signal_due
Create Date: 2026-12-06 00:00:02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033_scheduled_send_first_due"
down_revision: str | None = "0032_scheduled_send_signal_due"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: a worker of the release before, still running while this one rolls out, writes rows without it (the
    # drain then measures from `due_at`, as before).
    op.add_column("scheduled_send", sa.Column("first_due_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE scheduled_send SET first_due_at = due_at")


def downgrade() -> None:
    op.drop_column("scheduled_send", "first_due_at")
