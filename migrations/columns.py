"""Columns, keys and indexes most tables share, so a migration spells out only what is its own.

Names are the ones `models/base.py`'s naming convention gives (`pk_<table>`, `fk_<table>_<column>_<referred>`,
`ix_<table>_<column>`). A migration keeps the column order it always had, so it calls these in place.
"""

import sqlalchemy as sa
from alembic import op


def uuid_id() -> sa.Column:
    return sa.Column("id", sa.Uuid(), nullable=False)


def tenant_id(*, nullable: bool = False) -> sa.Column:
    return sa.Column("tenant_id", sa.Uuid(), nullable=nullable)


def timestamp_now(name: str) -> sa.Column:
    """A timestamp the database sets to the time of the insert."""
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def created_at() -> sa.Column:
    return timestamp_now("created_at")


def updated_at() -> sa.Column:
    return timestamp_now("updated_at")


def primary_key(table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))


def foreign_key(table: str, column: str, referred: str, *, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    """`<table>.<column>` references `<referred>.id`."""
    name = op.f(f"fk_{table}_{column}_{referred}")
    return sa.ForeignKeyConstraint([column], [f"{referred}.id"], name=name, ondelete=ondelete)


def tenant_owned(table: str) -> tuple[sa.Column, sa.Column, sa.PrimaryKeyConstraint, sa.ForeignKeyConstraint]:
    """The head of a tenant's table: a uuid `id` (the primary key), then `tenant_id`, deleted with its tenant."""
    return uuid_id(), tenant_id(), primary_key(table), foreign_key(table, "tenant_id", "tenant")


def create_index(table: str, column: str) -> None:
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def drop_index(table: str, column: str) -> None:
    op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)


def add_create_idempotency(table: str) -> None:
    """The Idempotency-Key and body fingerprint of the request that created a row; the key is unique per tenant."""
    op.add_column(table, sa.Column("create_idempotency_key", sa.String(length=100), nullable=True))
    op.add_column(table, sa.Column("create_fingerprint", sa.String(length=64), nullable=True))
    op.create_unique_constraint(
        f"uq_{table}_tenant_id_create_idempotency_key", table, ["tenant_id", "create_idempotency_key"]
    )


def drop_create_idempotency(table: str) -> None:
    op.drop_constraint(f"uq_{table}_tenant_id_create_idempotency_key", table, type_="unique")
    op.drop_column(table, "create_fingerprint")
    op.drop_column(table, "create_idempotency_key")
