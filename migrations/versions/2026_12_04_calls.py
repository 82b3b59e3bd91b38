"""call: one row per call attempt, the read model of its CallWorkflow and of Twilio's callbacks

Revision ID: 0020_calls
Revises: 0019_telephony_account
Create Date: 2026-12-04 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import columns

revision: str = "0020_calls"
down_revision: str | None = "0019_telephony_account"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call",
        *columns.tenant_owned("call"),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("attempt_key", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("agent_phone", sa.String(20), nullable=True),
        sa.Column("to_number", sa.String(20), nullable=False),
        sa.Column("from_number", sa.String(20), nullable=False),
        sa.Column("callback_token", sa.String(64), nullable=False),
        sa.Column("provider_sid", sa.String(64), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("answered_by", sa.String(30), nullable=True),
        sa.Column("disposition", sa.String(30), nullable=True),
        sa.Column("disposition_by", sa.String(80), nullable=True),
        sa.Column("disposition_note", sa.String(2000), nullable=True),
        sa.Column("callback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("recording_sid", sa.String(64), nullable=True),
        sa.Column("recording_url", sa.Text(), nullable=True),
        sa.Column("recording_duration_seconds", sa.Integer(), nullable=True),
        sa.Column("transcript", postgresql.JSONB(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("enrollment_workflow_id", sa.String(200), nullable=True),
        sa.Column("dial_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        columns.created_at(),
        columns.updated_at(),
        columns.foreign_key("call", "lead_id", "lead"),
        columns.foreign_key("call", "agent_id", "user", ondelete="SET NULL"),
        sa.UniqueConstraint("tenant_id", "lead_id", "attempt_key", name=op.f("uq_call_tenant_id_lead_id_attempt_key")),
        sa.UniqueConstraint("callback_token", name=op.f("uq_call_callback_token")),
        sa.UniqueConstraint("provider_sid", name=op.f("uq_call_provider_sid")),
    )
    op.create_index(op.f("ix_call_tenant_id"), "call", ["tenant_id"])
    op.create_index("ix_call_lead_created", "call", ["lead_id", "created_at"])


def downgrade() -> None:
    op.drop_table("call")
