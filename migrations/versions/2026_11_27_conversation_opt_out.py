"""conversation opt out

Revision ID: 0006_conversation_opt_out
Revises: 0005_enrollments
Create Date: 2026-11-27 03:43:37.158334
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_conversation_opt_out"
down_revision: str | None = "0005_enrollments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("conversation", sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("conversation", "opted_out_at")
