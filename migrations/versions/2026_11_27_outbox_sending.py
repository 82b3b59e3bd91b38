"""outbox: `started_at` of the attempt committed before the provider call (state `sending`)

Revision ID: 0007_outbox_sending
Revises: 0006_conversation_opt_out
Create Date: 2026-11-27 04:03:43.255931
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_outbox_sending"
down_revision: str | None = "0006_conversation_opt_out"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "started_at")
