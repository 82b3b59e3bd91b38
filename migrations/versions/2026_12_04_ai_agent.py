"""AI agent: versioned settings per tenant, model usage, drafts waiting for approval, budget alerts

Revision ID: 0018_ai_agent
Revises: 0017_tenant_feature_flag
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import columns

revision: str = "0018_ai_agent"
down_revision: str | None = "0017_tenant_feature_flag"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant() -> sa.Column:
    return sa.Column(
        "tenant_id",
        sa.Uuid(),
        sa.ForeignKey("tenant.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "ai_agent_settings",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("base_url", sa.String(500), nullable=False),
        sa.Column("api_key", sa.Text()),
        sa.Column("system_prompt", sa.Text(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=False),
        sa.Column("max_output_tokens", sa.Integer(), nullable=False),
        sa.Column("tools", sa.JSON(), nullable=False),
        sa.Column("answer_hours", sa.JSON()),
        sa.Column("debounce_seconds", sa.Float(), nullable=False),
        sa.Column("draft_timeout_minutes", sa.Float(), nullable=False),
        sa.Column("monthly_token_budget_soft", sa.Integer()),
        sa.Column("monthly_token_budget_hard", sa.Integer()),
        sa.Column("created_by", sa.String(80), nullable=False),
        columns.created_at(),
        sa.UniqueConstraint("tenant_id", "version", name="uq_ai_agent_settings_tenant_id_version"),
    )
    op.create_table(
        "ai_usage",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column("lead_id", sa.Uuid(), sa.ForeignKey("lead.id", ondelete="SET NULL")),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(14, 6), nullable=False),
        sa.Column("call_key", sa.String(300), nullable=False),
        columns.created_at(),
        sa.UniqueConstraint("call_key", name="uq_ai_usage_call_key"),
    )
    op.create_index("ix_ai_usage_tenant_created", "ai_usage", ["tenant_id", "created_at"])
    op.create_table(
        "ai_draft",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column("lead_id", sa.Uuid(), sa.ForeignKey("lead.id", ondelete="CASCADE"), nullable=False),
        sa.Column("workflow_id", sa.String(300), nullable=False),
        sa.Column("turn_key", sa.String(300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("final_text", sa.Text()),
        sa.Column("decided_by", sa.String(80)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("message_id", sa.Uuid()),
        sa.Column("task_id", sa.Uuid()),
        columns.created_at(),
        sa.UniqueConstraint("turn_key", name="uq_ai_draft_turn_key"),
    )
    op.create_index("ix_ai_draft_lead_id", "ai_draft", ["lead_id"])
    op.create_index("ix_ai_draft_tenant_status", "ai_draft", ["tenant_id", "status", "created_at"])
    op.create_table(
        "ai_budget_alert",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("tokens_used", sa.Integer(), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        columns.created_at(),
        sa.UniqueConstraint("tenant_id", "month", "level", name="uq_ai_budget_alert_tenant_id_month_level"),
    )


def downgrade() -> None:
    op.drop_table("ai_budget_alert")
    op.drop_table("ai_draft")
    op.drop_table("ai_usage")
    op.drop_table("ai_agent_settings")
