"""conversation handler: who answers the lead (AI agent or a person), mirrored for the inbox's list and filter

Revision ID: 0025_conversation_handler
Revises: 0024_call_summary
Create Date: 2026-12-04 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_conversation_handler"
down_revision: str | None = "0024_call_summary"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("conversation", sa.Column("handler", sa.String(20), nullable=False, server_default="unassigned"))


def downgrade() -> None:
    op.drop_column("conversation", "handler")
