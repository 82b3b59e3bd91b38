"""notification: per-person notifications the web app's bell shows

Revision ID: 0016_notifications
Revises: 0015_background_jobs
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import columns

revision: str = "0016_notifications"
down_revision: str | None = "0015_background_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification",
        *columns.tenant_owned("notification"),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(300), nullable=False),
        columns.created_at(),
        columns.foreign_key("notification", "user_id", "user"),
        columns.foreign_key("notification", "lead_id", "lead"),
        sa.UniqueConstraint("idempotency_key", name="uq_notification_idempotency_key"),
    )
    op.create_index("ix_notification_user_created", "notification", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_notification_user_created", table_name="notification")
    op.drop_table("notification")
