"""whatsapp_account: credentials sealed at rest (core/secret_box.py); columns widened for the sealed form

Revision ID: 0008_sealed_credentials
Revises: 0007_outbox_sending
Create Date: 2026-11-27 08:00:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from core.config import get_settings
from core.secret_box import PREFIX, SecretBox

revision: str = "0008_sealed_credentials"
down_revision: str | None = "0007_outbox_sending"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("access_token", "app_secret", "verify_token")
LENGTHS = {"access_token": 1000, "app_secret": 200, "verify_token": 200}


ACCOUNTS = sa.table("whatsapp_account", sa.column("id"), *(sa.column(c, sa.Text()) for c in COLUMNS))


def _rewrite(transform: Callable[[str], str | None]) -> None:
    connection = op.get_bind()
    for row in connection.execute(sa.select(ACCOUNTS)).mappings().all():
        values = {c: transform(row[c]) for c in COLUMNS if row[c] is not None}
        if values:
            connection.execute(sa.update(ACCOUNTS).where(ACCOUNTS.c.id == row["id"]).values(**values))


def upgrade() -> None:
    for column in COLUMNS:
        op.alter_column("whatsapp_account", column, type_=sa.Text(), existing_type=sa.String(LENGTHS[column]))
    # Rows stored before sealing existed: seal them under the current LEADFLOW_SECRET_KEY.
    box = SecretBox.for_settings(get_settings())
    _rewrite(lambda value: value if value.startswith(PREFIX) else box.seal(value))


def downgrade() -> None:
    box = SecretBox.for_settings(get_settings())
    _rewrite(box.open)
    for column in COLUMNS:
        op.alter_column("whatsapp_account", column, type_=sa.String(LENGTHS[column]), existing_type=sa.Text())
