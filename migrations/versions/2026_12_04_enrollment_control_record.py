"""enrollment: a person's pause or stop, recorded by the API before the workflow hears of it

The enrollment's workflow may wait behind a burst on the bulk queue; the send path reads these columns in the
transaction that decides a send, so a stop or pause holds its sends at once.

Revision ID: 0028_enrollment_control_record
Revises: 0027_inbox_inbound_from
Create Date: 2026-12-04 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_enrollment_control_record"
down_revision: str | None = "0027_inbox_inbound_from"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("enrollment", sa.Column("stop_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("enrollment", sa.Column("pause_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("enrollment", sa.Column("control_detail", sa.String(500), nullable=True))


def downgrade() -> None:
    op.drop_column("enrollment", "control_detail")
    op.drop_column("enrollment", "pause_requested_at")
    op.drop_column("enrollment", "stop_requested_at")
