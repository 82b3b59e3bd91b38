"""webhook_event and message: unique per tenant (provider ids are only unique within the tenant's own traffic)

A tenant signing an event with another tenant's message id could otherwise store it first and make the real
delivery look like a repeat (its status skipped, its inbound message dropped).

Revision ID: 0010_webhook_event_per_tenant
Revises: 0009_task_blocks_enrollment
Create Date: 2026-11-27 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_webhook_event_per_tenant"
down_revision: str | None = "0009_task_blocks_enrollment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("uq_webhook_event_provider_provider_event_id", "webhook_event", type_="unique")
    op.create_unique_constraint(
        "uq_webhook_event_provider_tenant_id_provider_event_id",
        "webhook_event",
        ["provider", "tenant_id", "provider_event_id"],
    )
    op.drop_constraint("uq_message_provider_message_id", "message", type_="unique")
    op.create_unique_constraint(
        "uq_message_tenant_id_provider_message_id", "message", ["tenant_id", "provider_message_id"]
    )


def downgrade() -> None:
    # Fails if two tenants stored the same provider id meanwhile: those rows must be merged by hand first.
    op.drop_constraint("uq_message_tenant_id_provider_message_id", "message", type_="unique")
    op.create_unique_constraint("uq_message_provider_message_id", "message", ["provider_message_id"])
    op.drop_constraint("uq_webhook_event_provider_tenant_id_provider_event_id", "webhook_event", type_="unique")
    op.create_unique_constraint(
        "uq_webhook_event_provider_provider_event_id", "webhook_event", ["provider", "provider_event_id"]
    )
