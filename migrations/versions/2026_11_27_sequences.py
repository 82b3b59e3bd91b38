"""sequences: outreach sequence drafts and their frozen published versions (unique per sequence and number)

Revision ID: 0004_sequences
Revises: 0003_lead_search
Create Date: 2026-11-27 03:34:31.883587
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import columns

revision: str = "0004_sequences"
down_revision: str | None = "0003_lead_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "sequence",
        columns.tenant_id(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=True),
        sa.Column("has_unpublished_changes", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        columns.updated_at(),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        columns.uuid_id(),
        columns.created_at(),
        columns.foreign_key("sequence", "tenant_id", "tenant"),
        columns.primary_key("sequence"),
    )
    op.create_index("ix_sequence_tenant_created", "sequence", ["tenant_id", "created_at"], unique=False)
    op.create_table(
        "sequence_version",
        columns.tenant_id(),
        sa.Column("sequence_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("published_by", sa.String(length=80), nullable=False),
        columns.timestamp_now("published_at"),
        columns.uuid_id(),
        columns.foreign_key("sequence_version", "sequence_id", "sequence"),
        columns.foreign_key("sequence_version", "tenant_id", "tenant"),
        columns.primary_key("sequence_version"),
        sa.UniqueConstraint("sequence_id", "version", name=op.f("uq_sequence_version_sequence_id_version")),
    )
    columns.create_index("sequence_version", "tenant_id")


def downgrade() -> None:

    columns.drop_index("sequence_version", "tenant_id")
    op.drop_table("sequence_version")
    op.drop_index("ix_sequence_tenant_created", table_name="sequence")
    op.drop_table("sequence")
