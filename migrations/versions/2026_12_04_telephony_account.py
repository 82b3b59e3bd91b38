"""telephony_account: a tenant's Twilio account (auth token sealed) and its call policy

Revision ID: 0019_telephony_account
Revises: 0018_ai_agent
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import columns

revision: str = "0019_telephony_account"
down_revision: str | None = "0018_ai_agent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telephony_account",
        *columns.tenant_owned("telephony_account"),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("account_sid", sa.String(64), nullable=False),
        sa.Column("auth_token", sa.Text(), nullable=True),
        sa.Column("caller_ids", postgresql.JSONB(), nullable=False),
        sa.Column("concurrent_call_limit", sa.Integer(), nullable=False),
        sa.Column("calls_per_second", sa.Float(), nullable=False),
        sa.Column("ring_timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("recording_enabled", sa.Boolean(), nullable=False),
        sa.Column("recording_consent_prompt", sa.Text(), nullable=False),
        sa.Column("voicemail_policy", sa.String(20), nullable=False),
        sa.Column("voicemail_message", sa.Text(), nullable=False),
        sa.Column("human_answer_mode", sa.String(20), nullable=False),
        sa.Column("answer_message", sa.Text(), nullable=False),
        sa.Column("agent_number", sa.String(20), nullable=True),
        sa.Column("voice_script", postgresql.JSONB(), nullable=False),
        sa.Column("retry_max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_spacing_minutes", sa.Integer(), nullable=False),
        sa.Column("inbound_routing", sa.String(20), nullable=False),
        columns.created_at(),
        columns.updated_at(),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_telephony_account_tenant_id")),
    )


def downgrade() -> None:
    op.drop_table("telephony_account")
