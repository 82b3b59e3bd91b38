"""whatsapp channel

Revision ID: 0002_whatsapp
Revises: 0001
Create Date: 2026-11-27 03:03:57.992700
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_whatsapp"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shard_assignment",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("shard", sa.String(length=63), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_shard_assignment_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_shard_assignment")),
    )
    op.create_index(op.f("ix_shard_assignment_shard"), "shard_assignment", ["shard"], unique=False)
    op.create_table(
        "whatsapp_account",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=True),
        sa.Column("display_number", sa.String(length=20), nullable=True),
        sa.Column("access_token", sa.String(length=1000), nullable=True),
        sa.Column("app_secret", sa.String(length=200), nullable=True),
        sa.Column("verify_token", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_whatsapp_account_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_account")),
        sa.UniqueConstraint("phone_number_id", name=op.f("uq_whatsapp_account_phone_number_id")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_whatsapp_account_tenant_id")),
    )
    op.create_index(op.f("ix_whatsapp_account_verify_token"), "whatsapp_account", ["verify_token"], unique=False)
    op.create_table(
        "conversation",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_preview", sa.String(length=200), nullable=False),
        sa.Column("unread_count", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["lead.id"], name=op.f("fk_conversation_lead_id_lead"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_conversation_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
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
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("signalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["lead.id"], name=op.f("fk_webhook_event_lead_id_lead"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_webhook_event_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_event")),
        sa.UniqueConstraint("provider", "provider_event_id", name=op.f("uq_webhook_event_provider_provider_event_id")),
    )
    op.create_index(op.f("ix_webhook_event_tenant_id"), "webhook_event", ["tenant_id"], unique=False)
    op.create_table(
        "message",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
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
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_message_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"], name=op.f("fk_message_lead_id_lead"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_message_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint("provider_message_id", name=op.f("uq_message_provider_message_id")),
    )
    op.create_index(
        "ix_message_conversation_occurred", "message", ["conversation_id", "occurred_at", "id"], unique=False
    )
    op.create_index(op.f("ix_message_lead_id"), "message", ["lead_id"], unique=False)
    op.create_index(op.f("ix_message_tenant_id"), "message", ["tenant_id"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("message_id", sa.Uuid(), nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"], name=op.f("fk_outbox_lead_id_lead"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["message.id"], name=op.f("fk_outbox_message_id_message"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_outbox_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    op.create_index(op.f("ix_outbox_lead_id"), "outbox", ["lead_id"], unique=False)
    op.create_index(op.f("ix_outbox_tenant_id"), "outbox", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_tenant_id"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_lead_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_message_tenant_id"), table_name="message")
    op.drop_index(op.f("ix_message_lead_id"), table_name="message")
    op.drop_index("ix_message_conversation_occurred", table_name="message")
    op.drop_table("message")
    op.drop_index(op.f("ix_webhook_event_tenant_id"), table_name="webhook_event")
    op.drop_table("webhook_event")
    op.drop_index("ix_conversation_tenant_last_message", table_name="conversation")
    op.drop_table("conversation")
    op.drop_index(op.f("ix_whatsapp_account_verify_token"), table_name="whatsapp_account")
    op.drop_table("whatsapp_account")
    op.drop_index(op.f("ix_shard_assignment_shard"), table_name="shard_assignment")
    op.drop_table("shard_assignment")
