"""Migration 0008 seals WhatsApp credentials stored in plain text before it, and its downgrade opens them again."""

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.config import Config

from core.config import Settings
from core.migrate import ROOT
from core.secret_box import PREFIX, SecretBox


@pytest.fixture
def empty_database() -> Iterator[str]:
    admin_url = Settings().test_postgres_admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"leadflow_migration_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alembic(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def _credentials(url: str) -> tuple[str, str, str | None]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT access_token, app_secret, verify_token FROM whatsapp_account").fetchone()
    assert row is not None
    return row


def test_plain_text_credentials_are_sealed_by_the_upgrade_and_opened_by_the_downgrade(empty_database: str) -> None:
    config = _alembic(empty_database)
    command.upgrade(config, "0007_outbox_sending")
    tenant_id = uuid.uuid4()
    with psycopg.connect(empty_database) as conn:
        conn.execute(
            "INSERT INTO tenant (id, slug, name, default_region, timezone, speed_to_lead_minutes)"
            " VALUES (%s, 'm', 'M', 'US', 'UTC', 15)",
            (tenant_id,),
        )
        conn.execute(
            "INSERT INTO whatsapp_account (id, tenant_id, provider, phone_number_id, access_token, app_secret,"
            " verify_token) VALUES (%s, %s, 'cloud', '123', 'EAAG-plain', 'plain-secret', NULL)",
            (uuid.uuid4(), tenant_id),
        )

    command.upgrade(config, "head")
    access_token, app_secret, verify_token = _credentials(empty_database)
    assert access_token.startswith(PREFIX) and app_secret.startswith(PREFIX) and verify_token is None
    box = SecretBox.for_settings(Settings())  # the settings the migration ran with
    assert (box.open(access_token), box.open(app_secret)) == ("EAAG-plain", "plain-secret")

    command.downgrade(config, "0007_outbox_sending")
    assert _credentials(empty_database) == ("EAAG-plain", "plain-secret", None)
