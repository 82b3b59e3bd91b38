"""webhook_inbox: verified webhook events stored at once and handled behind the acknowledgement

The trigger wakes every listening dispatcher when a statement inserts events (one notification per transaction).

Revision ID: 0014_webhook_inbox
Revises: 0013_sequence_create_idempotency
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_webhook_inbox"
down_revision: str | None = "0013_sequence_create_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "webhook_inbox"


def upgrade() -> None:
    op.create_table(
        "webhook_inbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("event_key", sa.String(300), nullable=False),
        sa.Column("order_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("event", postgresql.JSONB(), nullable=False),
        sa.Column("raw", postgresql.JSONB(), nullable=False),
        sa.Column("state", sa.String(20), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_inbox"),
        sa.UniqueConstraint(
            "provider", "account_id", "event_key", name="uq_webhook_inbox_provider_account_id_event_key"
        ),
    )
    # The claim reads only open rows; handled ones pile up until they are pruned.
    op.create_index(
        "ix_webhook_inbox_open",
        "webhook_inbox",
        ["id"],
        postgresql_where=sa.text("state IN ('pending', 'processing')"),
    )
    op.create_index(
        "ix_webhook_inbox_open_order_key",
        "webhook_inbox",
        ["order_key", "id"],
        postgresql_where=sa.text("state IN ('pending', 'processing')"),
    )
    op.create_index("ix_webhook_inbox_state_received_at", "webhook_inbox", ["state", "received_at"])
    # A queue table: every event is updated two or three times within seconds. Vacuumed after every thousand dead
    # rows (not a fraction of a table that keeps days of handled events), the open-row indexes the claim walks stay
    # free of dead entries; left to the defaults, a claim during a burst walked thousands of them.
    op.execute(
        "ALTER TABLE webhook_inbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, "
        "autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000)"
    )
    op.execute(
        f"""
        CREATE FUNCTION webhook_inbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER webhook_inbox_inserted AFTER INSERT ON webhook_inbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION webhook_inbox_notify()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER webhook_inbox_inserted ON webhook_inbox")
    op.execute("DROP FUNCTION webhook_inbox_notify()")
    op.drop_table("webhook_inbox")
