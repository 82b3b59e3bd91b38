"""lead: the Idempotency-Key and body fingerprint of the request that created it

Two POST /leads for one phone were told apart only by whether the lead's workflow had started, so a concurrent
create with other data was answered 201 with the first caller's lead. These columns recognise a real retry.

Revision ID: 0011_lead_create_idempotency
Revises: 0010_webhook_event_per_tenant
Create Date: 2026-12-04 14:40:00
"""

from collections.abc import Sequence

from migrations import columns

revision: str = "0011_lead_create_idempotency"
down_revision: str | None = "0010_webhook_event_per_tenant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    columns.add_create_idempotency("lead")


def downgrade() -> None:
    columns.drop_create_idempotency("lead")
