"""scheduled_send: sequence sends written ahead of their time, sent by the drain without waking their workflow

Revision ID: 0031_scheduled_send
Revises: 0030_enrollment_reply_stop
Create Date: 2026-12-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0031_scheduled_send"
down_revision: str | None = "0030_enrollment_reply_stop"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduled_send",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False),
        sa.Column("enrollment_id", sa.Uuid(), sa.ForeignKey("enrollment.id", ondelete="CASCADE"), nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due", postgresql.JSONB(), nullable=False),
        sa.Column("signal_when_settled", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(20), server_default="scheduled", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", postgresql.JSONB(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_scheduled_send_tenant_id", "scheduled_send", ["tenant_id"])
    op.create_index("ix_scheduled_send_enrollment_id", "scheduled_send", ["enrollment_id"])
    op.create_index(
        "ix_scheduled_send_open_due",
        "scheduled_send",
        ["due_at"],
        postgresql_where=sa.text("state IN ('scheduled', 'sending')"),
    )


def downgrade() -> None:
    op.drop_table("scheduled_send")
