"""lead search: trigram indexes for the leads list's substring search on name, e-mail and phone

Revision ID: 0003_lead_search
Revises: 0002_whatsapp
Create Date: 2026-11-27 03:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_lead_search"
down_revision: str | None = "0002_whatsapp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("name", "email", "phone")


def upgrade() -> None:
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it without superuser rights.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in _COLUMNS:
        op.create_index(
            f"ix_lead_{column}_trgm",
            "lead",
            [column],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    for column in _COLUMNS:
        op.drop_index(f"ix_lead_{column}_trgm", table_name="lead")
