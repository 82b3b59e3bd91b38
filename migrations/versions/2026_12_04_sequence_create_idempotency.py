"""sequence: the Idempotency-Key and body fingerprint of the request that created it

A POST /sequences retried after a lost answer saved a second identical draft. The key lets the retry answer the
first one.

Revision ID: 0013_sequence_create_idempotency
Revises: 0012_timeline_created_kind
Create Date: 2026-12-04 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_sequence_create_idempotency"
down_revision: str | None = "0012_timeline_created_kind"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sequence", sa.Column("create_idempotency_key", sa.String(length=100), nullable=True))
    op.add_column("sequence", sa.Column("create_fingerprint", sa.String(length=64), nullable=True))
    op.create_unique_constraint(
        "uq_sequence_tenant_id_create_idempotency_key", "sequence", ["tenant_id", "create_idempotency_key"]
    )


def downgrade() -> None:
    op.drop_constraint("uq_sequence_tenant_id_create_idempotency_key", "sequence", type_="unique")
    op.drop_column("sequence", "create_fingerprint")
    op.drop_column("sequence", "create_idempotency_key")
