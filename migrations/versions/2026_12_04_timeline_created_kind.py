"""timeline_event: a lead created by a WhatsApp message has the `created` event like every other lead

Those leads got kind `lead_created` (key `lead-created:<id>`) while POST /leads and imports record `created`
(key `lead:<id>:created`), so a timeline reader looking for `created` missed them.

Revision ID: 0012_timeline_created_kind
Revises: 0011_lead_create_idempotency
Create Date: 2026-12-04 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_timeline_created_kind"
down_revision: str | None = "0011_lead_create_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A lead never had both, but if one did its `created` event stays and the older name goes.
    op.execute(
        sa.text(
            "DELETE FROM timeline_event AS old WHERE old.kind = 'lead_created' AND EXISTS ("
            " SELECT 1 FROM timeline_event AS created"
            " WHERE created.idempotency_key = :prefix || old.lead_id::text || :suffix)"
        ).bindparams(prefix="lead:", suffix=":created")
    )
    op.execute(
        sa.text(
            "UPDATE timeline_event SET kind = 'created', idempotency_key = :prefix || lead_id::text || :suffix"
            " WHERE kind = 'lead_created'"
        ).bindparams(prefix="lead:", suffix=":created")
    )


def downgrade() -> None:
    # The WhatsApp path is the only one recording `created` as actor `whatsapp`.
    op.execute(
        sa.text(
            "UPDATE timeline_event SET kind = 'lead_created', idempotency_key = :prefix || lead_id::text"
            " WHERE kind = 'created' AND actor = 'whatsapp'"
        ).bindparams(prefix="lead-created:")
    )
