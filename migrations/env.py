"""Alembic environment: migrates the database named by `Settings.database_url` (or the URL passed in config)."""

from alembic import context
from sqlalchemy import create_engine, pool

import models
from core.config import get_settings

target_metadata = models.Base.metadata


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().require_database_url()
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
