"""sequence: the Idempotency-Key and body fingerprint of the request that created it

A POST /sequences retried after a lost answer saved a second identical draft. The key lets the retry answer the
first one.

Revision ID: 0013_sequence_create_idempotency
Revises: 0012_timeline_created_kind
Create Date: 2026-12-04 15:30:00
"""

from collections.abc import Sequence

from migrations import columns

revision: str = "0013_sequence_create_idempotency"
down_revision: str | None = "0012_timeline_created_kind"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    columns.add_create_idempotency("sequence")


def downgrade() -> None:
    columns.drop_create_idempotency("sequence")
