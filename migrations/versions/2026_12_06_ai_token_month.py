"""ai_token_month: a tenant's tokens per UTC month, raised by a trigger on ai_usage

The budget check summed every usage row of the tenant's month on every AI turn (and on every call's and budget
read), a cost that grew with the month. A counter row per (tenant, month) makes it one row. The trigger counts every
usage row inserted, whoever inserts it (a worker of the release before, still running during the roll-out,
included); an insert skipped by `ON CONFLICT DO NOTHING` (a call recorded again) fires nothing. The rows stored
before are summed in, with inserts held off meanwhile so none is counted twice or missed.

Revision ID: 0034_ai_token_month
Revises: 0033_scheduled_send_first_due
Create Date: 2026-12-06 00:00:03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034_ai_token_month"
down_revision: str | None = "0033_scheduled_send_first_due"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ai_token_month",
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
    )
    # Inserts wait until this migration commits: the trigger and the sum of the rows before see each row once.
    op.execute("LOCK TABLE ai_usage IN SHARE MODE")
    op.execute(
        """
        CREATE FUNCTION ai_usage_count_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO ai_token_month (tenant_id, month, tokens)
            VALUES (NEW.tenant_id, to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM'),
                    NEW.input_tokens + NEW.output_tokens)
            ON CONFLICT (tenant_id, month) DO UPDATE SET tokens = ai_token_month.tokens + EXCLUDED.tokens;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER ai_usage_counted AFTER INSERT ON ai_usage FOR EACH ROW EXECUTE FUNCTION ai_usage_count_tokens()"
    )
    op.execute(
        """
        INSERT INTO ai_token_month (tenant_id, month, tokens)
        SELECT tenant_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM'), sum(input_tokens + output_tokens)
        FROM ai_usage GROUP BY 1, 2
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER ai_usage_counted ON ai_usage")
    op.execute("DROP FUNCTION ai_usage_count_tokens()")
    op.drop_table("ai_token_month")
