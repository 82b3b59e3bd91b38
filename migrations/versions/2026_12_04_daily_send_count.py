"""daily_send_count: the daily cap's per-tenant-day counter, replacing the count of the day's step rows under a lock

Counts the last two days' sends from the step history the cap used to count (a send reserved or sent, once per step
execution, on the tenant's local day of its `fired_at`), so the caps of the day the upgrade runs stay exact.

Revision ID: 0021_daily_send_count
Revises: 0020_calls
Create Date: 2026-12-04 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations import columns

revision: str = "0021_daily_send_count"
down_revision: str | None = "0020_calls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_send_count",
        columns.tenant_id(),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        columns.foreign_key("daily_send_count", "tenant_id", "tenant"),
        sa.PrimaryKeyConstraint("tenant_id", "channel", "day", name=op.f("pk_daily_send_count")),
    )
    op.execute(
        """
        INSERT INTO daily_send_count (tenant_id, channel, day, sent)
        SELECT s.tenant_id, 'whatsapp', (s.fired_at AT TIME ZONE t.timezone)::date AS day,
               count(DISTINCT (s.enrollment_id, s.number))
        FROM enrollment_step s JOIN tenant t ON t.id = s.tenant_id
        WHERE s.type = 'send_whatsapp' AND s.result IN ('reserved', 'sent')
          AND s.fired_at >= now() - interval '2 days'
        GROUP BY s.tenant_id, day
        """
    )


def downgrade() -> None:
    op.drop_table("daily_send_count")
