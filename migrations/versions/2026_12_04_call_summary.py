"""call summary: the AI agent's suggested disposition and who wrote the summary

Revision ID: 0024_call_summary
Revises: 0021_daily_send_count
Create Date: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_call_summary"
down_revision: str | None = "0021_daily_send_count"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("call", sa.Column("suggested_disposition", sa.String(30), nullable=True))
    op.add_column("call", sa.Column("summary_by", sa.String(80), nullable=True))


def downgrade() -> None:
    op.drop_column("call", "summary_by")
    op.drop_column("call", "suggested_disposition")
