"""webhook_inbox: open inbound messages found by the sender's number, for the send path's reply check

A sequence send looks here for a message from its lead that is stored but not yet handled: the reply that would
stop it may be waiting behind a burst in the inbox.

Revision ID: 0027_inbox_inbound_from
Revises: 0026_task_outcome
Create Date: 2026-12-04 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_inbox_inbound_from"
down_revision: str | None = "0026_task_outcome"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_webhook_inbox_open_inbound_from",
        "webhook_inbox",
        [sa.text("(event ->> 'from_phone')")],
        postgresql_where=sa.text("state IN ('pending', 'processing') AND kind = 'inbound_message'"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_inbox_open_inbound_from", table_name="webhook_inbox")
