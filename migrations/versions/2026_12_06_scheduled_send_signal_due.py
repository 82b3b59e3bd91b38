"""scheduled_send.signal_due: a settled send whose workflow must still be told, until it is

The drain signals a workflow after settling its send when the outcome changes the workflow's course or the workflow
asked to hear of it. A drain that dies (or a Temporal that is away) between the two left the workflow asleep until
its fallback wake; the flag makes the signal durable: every drain signals the rows that still carry it.

Revision ID: 0032_scheduled_send_signal_due
Revises: 0031_scheduled_send
Create Date: 2026-12-06 00:00:01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_scheduled_send_signal_due"
down_revision: str | None = "0031_scheduled_send"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("scheduled_send", sa.Column("signal_due", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(
        "ix_scheduled_send_signal_due", "scheduled_send", ["settled_at"], postgresql_where=sa.text("signal_due")
    )


def downgrade() -> None:
    op.drop_index("ix_scheduled_send_signal_due", table_name="scheduled_send")
    op.drop_column("scheduled_send", "signal_due")
