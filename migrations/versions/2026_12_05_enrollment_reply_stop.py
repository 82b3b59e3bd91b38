"""enrollment: the reply stop on the row, so the reply's own transaction ends the enrollment

`exits_on_reply_after`: a message from the lead received after this time ends the enrollment (`exited`, `replied`).
The workflow keeps it in every mirror (NULL when a reply would not end it: `exit_on_reply` off, a `wait_for_reply`
step holding, the enrollment ended); the webhook dispatcher applies it in the transaction that stores the reply.
Rows mirrored before carry NULL until their workflow mirrors again: their replies end them as before, through the
workflow.

Revision ID: 0030_enrollment_reply_stop
Revises: 0029_lead_search_no_pending_list
Create Date: 2026-12-05 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_enrollment_reply_stop"
down_revision: str | None = "0029_lead_search_no_pending_list"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("enrollment", sa.Column("exits_on_reply_after", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("enrollment", "exits_on_reply_after")
