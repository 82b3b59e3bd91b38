"""whatsapp channel

Revision ID: 0002_whatsapp
Revises: 0001
Create Date: 2026-11-27 03:03:57.992700
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import columns

revision: str = "0002_whatsapp"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shard_assignment",
        columns.tenant_id(),
        sa.Column("shard", sa.String(length=63), nullable=False),
        columns.timestamp_now("assigned_at"),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=True),
        columns.foreign_key("shard_assignment", "tenant_id", "tenant"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_shard_assignment")),
    )
    columns.create_index("shard_assignment", "shard")
    op.create_table(
        "whatsapp_account",
        columns.tenant_id(),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=True),
        sa.Column("display_number", sa.String(length=20), nullable=True),
        sa.Column("access_token", sa.String(length=1000), nullable=True),
        sa.Column("app_secret", sa.String(length=200), nullable=True),
        sa.Column("verify_token", sa.String(length=200), nullable=True),
        columns.updated_at(),
        columns.uuid_id(),
        columns.created_at(),
        columns.foreign_key("whatsapp_account", "tenant_id", "tenant"),
        columns.primary_key("whatsapp_account"),
        sa.UniqueConstraint("phone_number_id", name=op.f("uq_whatsapp_account_phone_number_id")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_whatsapp_account_tenant_id")),
    )
    columns.create_index("whatsapp_account", "verify_token")
    op.create_table(
        "conversation",
        columns.tenant_id(),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_preview", sa.String(length=200), nullable=False),
        sa.Column("unread_count", sa.Integer(), nullable=False),
        columns.uuid_id(),
        columns.created_at(),
        columns.foreign_key("conversation", "lead_id", "lead"),
        columns.foreign_key("conversation", "tenant_id", "tenant"),
        columns.primary_key("conversation"),
        sa.UniqueConstraint("lead_id", "channel", name=op.f("uq_conversation_lead_id_channel")),
    )
    op.create_index(
        "ix_conversation_tenant_last_message", "conversation", ["tenant_id", "last_message_at", "id"], unique=False
    )
    op.create_table(
        "webhook_event",
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_event_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        columns.tenant_id(nullable=True),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        columns.timestamp_now("received_at"),
        sa.Column("signalled_at", sa.DateTime(timezone=True), nullable=True),
        columns.uuid_id(),
        columns.foreign_key("webhook_event", "lead_id", "lead", ondelete="SET NULL"),
        columns.foreign_key("webhook_event", "tenant_id", "tenant"),
        columns.primary_key("webhook_event"),
        sa.UniqueConstraint("provider", "provider_event_id", name=op.f("uq_webhook_event_provider_provider_event_id")),
    )
    columns.create_index("webhook_event", "tenant_id")
    op.create_table(
        "message",
        columns.tenant_id(),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("template", sa.String(length=200), nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("sent_by", sa.String(length=80), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        columns.uuid_id(),
        columns.created_at(),
        columns.foreign_key("message", "conversation_id", "conversation"),
        columns.foreign_key("message", "lead_id", "lead"),
        columns.foreign_key("message", "tenant_id", "tenant"),
        columns.primary_key("message"),
        sa.UniqueConstraint("provider_message_id", name=op.f("uq_message_provider_message_id")),
    )
    op.create_index(
        "ix_message_conversation_occurred", "message", ["conversation_id", "occurred_at", "id"], unique=False
    )
    columns.create_index("message", "lead_id")
    columns.create_index("message", "tenant_id")
    op.create_table(
        "outbox",
        columns.tenant_id(),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        columns.updated_at(),
        columns.uuid_id(),
        columns.created_at(),
        columns.foreign_key("outbox", "lead_id", "lead"),
        columns.foreign_key("outbox", "message_id", "message", ondelete="SET NULL"),
        columns.foreign_key("outbox", "tenant_id", "tenant"),
        columns.primary_key("outbox"),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    columns.create_index("outbox", "lead_id")
    columns.create_index("outbox", "tenant_id")


def downgrade() -> None:
    columns.drop_index("outbox", "tenant_id")
    columns.drop_index("outbox", "lead_id")
    op.drop_table("outbox")
    columns.drop_index("message", "tenant_id")
    columns.drop_index("message", "lead_id")
    op.drop_index("ix_message_conversation_occurred", table_name="message")
    op.drop_table("message")
    columns.drop_index("webhook_event", "tenant_id")
    op.drop_table("webhook_event")
    op.drop_index("ix_conversation_tenant_last_message", table_name="conversation")
    op.drop_table("conversation")
    columns.drop_index("whatsapp_account", "verify_token")
    op.drop_table("whatsapp_account")
    columns.drop_index("shard_assignment", "shard")
    op.drop_table("shard_assignment")
