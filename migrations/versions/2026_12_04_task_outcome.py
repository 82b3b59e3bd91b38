"""task.outcome: what came of a completed or skipped task (e.g. "reached", "no answer"), beside its note

Revision ID: 0026_task_outcome
Revises: 0025_conversation_handler
Create Date: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_task_outcome"
down_revision: str | None = "0025_conversation_handler"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("task", sa.Column("outcome", sa.String(80), nullable=True))


def downgrade() -> None:
    op.drop_column("task", "outcome")
