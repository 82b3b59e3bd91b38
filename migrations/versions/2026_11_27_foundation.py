"""foundation

Revision ID: 0001
Revises:
Create Date: 2026-11-27 02:47:10.591380
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import columns

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant",
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("default_region", sa.String(length=2), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("speed_to_lead_minutes", sa.Integer(), nullable=False),
        columns.uuid_id(),
        columns.created_at(),
        columns.primary_key("tenant"),
        sa.UniqueConstraint("slug", name=op.f("uq_tenant_slug")),
    )
    op.create_table(
        "status_definition",
        columns.tenant_id(),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        columns.uuid_id(),
        columns.created_at(),
        columns.foreign_key("status_definition", "tenant_id", "tenant"),
        columns.primary_key("status_definition"),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_status_definition_tenant_id_key")),
    )
    columns.create_index("status_definition", "tenant_id")
    op.create_table(
        "user",
        columns.tenant_id(nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        columns.uuid_id(),
        columns.created_at(),
        columns.foreign_key("user", "tenant_id", "tenant"),
        columns.primary_key("user"),
        sa.UniqueConstraint("email", name=op.f("uq_user_email")),
    )
    columns.create_index("user", "tenant_id")
    op.create_table(
        "api_key",
        columns.tenant_id(),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        columns.uuid_id(),
        columns.created_at(),
        columns.foreign_key("api_key", "created_by_id", "user", ondelete="SET NULL"),
        columns.foreign_key("api_key", "tenant_id", "tenant"),
        columns.primary_key("api_key"),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    columns.create_index("api_key", "tenant_id")
    op.create_table(
        "lead",
        columns.tenant_id(),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("status_key", sa.String(length=63), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("custom_fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        columns.updated_at(),
        columns.uuid_id(),
        columns.created_at(),
        columns.foreign_key("lead", "owner_id", "user", ondelete="SET NULL"),
        columns.foreign_key("lead", "tenant_id", "tenant"),
        columns.primary_key("lead"),
        sa.UniqueConstraint("tenant_id", "phone", name=op.f("uq_lead_tenant_id_phone")),
    )
    columns.create_index("lead", "owner_id")
    op.create_index("ix_lead_tenant_created", "lead", ["tenant_id", "created_at", "id"], unique=False)
    op.create_table(
        "timeline_event",
        columns.tenant_id(),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        columns.timestamp_now("occurred_at"),
        columns.uuid_id(),
        columns.foreign_key("timeline_event", "lead_id", "lead"),
        columns.foreign_key("timeline_event", "tenant_id", "tenant"),
        columns.primary_key("timeline_event"),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_timeline_event_idempotency_key")),
    )
    op.create_index("ix_timeline_event_lead_occurred", "timeline_event", ["lead_id", "occurred_at"], unique=False)
    columns.create_index("timeline_event", "tenant_id")


def downgrade() -> None:
    columns.drop_index("timeline_event", "tenant_id")
    op.drop_index("ix_timeline_event_lead_occurred", table_name="timeline_event")
    op.drop_table("timeline_event")
    op.drop_index("ix_lead_tenant_created", table_name="lead")
    columns.drop_index("lead", "owner_id")
    op.drop_table("lead")
    columns.drop_index("api_key", "tenant_id")
    op.drop_table("api_key")
    columns.drop_index("user", "tenant_id")
    op.drop_table("user")
    columns.drop_index("status_definition", "tenant_id")
    op.drop_table("status_definition")
    op.drop_table("tenant")
