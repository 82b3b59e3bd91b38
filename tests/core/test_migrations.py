"""Data migrations on rows stored before them: 0008 seals WhatsApp credentials stored in plain text (its downgrade
opens them again); 0009 marks existing tasks of `wait_for_completion: false` steps as not blocking; 0012 renames the
`lead_created` timeline event of WhatsApp-created leads to `created`; 0015 marks existing leads as having started
their workflow."""

import json
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


def _insert_tenant(conn: psycopg.Connection, tenant_id: uuid.UUID, slug: str) -> None:
    conn.execute(
        "INSERT INTO tenant (id, slug, name, default_region, timezone, speed_to_lead_minutes)"
        " VALUES (%s, %s, %s, 'US', 'UTC', 15)",
        (tenant_id, slug, slug.upper()),
    )


def _insert_lead(conn: psycopg.Connection, lead_id: uuid.UUID, tenant_id: uuid.UUID, *, source: str) -> None:
    conn.execute(
        "INSERT INTO lead (id, tenant_id, phone, name, source, status_key, stage, timezone, custom_fields)"
        " VALUES (%s, %s, '+12025550143', 'A', %s, 'new', 'new', 'UTC', '{}')",
        (lead_id, tenant_id, source),
    )


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
        _insert_tenant(conn, tenant_id, "m")
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


def test_an_existing_task_of_a_non_blocking_step_is_marked_non_blocking(empty_database: str) -> None:
    config = _alembic(empty_database)
    command.upgrade(config, "0008_sealed_credentials")
    tenant, lead, sequence, version, enrollment = (uuid.uuid4() for _ in range(5))
    blocking, non_blocking = uuid.uuid4(), uuid.uuid4()
    steps = [
        {"type": "task", "id": "note", "title": "Look", "due_in": {"days": 1}, "wait_for_completion": False},
        {"type": "task", "id": "call", "title": "Call", "due_in": {"days": 1}},
    ]
    definition = json.dumps({"steps": steps, "settings": {}})
    with psycopg.connect(empty_database) as conn:
        _insert_tenant(conn, tenant, "m")
        _insert_lead(conn, lead, tenant, source="api")
        conn.execute(
            "INSERT INTO sequence (id, tenant_id, name, status, definition, has_unpublished_changes, created_by)"
            " VALUES (%s, %s, 'S', 'active', %s, false, 'user:x')",
            (sequence, tenant, definition),
        )
        conn.execute(
            "INSERT INTO sequence_version (id, tenant_id, sequence_id, version, definition, published_by)"
            " VALUES (%s, %s, %s, 1, %s, 'user:x')",
            (version, tenant, sequence, definition),
        )
        conn.execute(
            "INSERT INTO enrollment (id, tenant_id, lead_id, sequence_id, sequence_version_id, workflow_id, status,"
            " steps_run, replies, revision, enrolled_by) VALUES (%s, %s, %s, %s, %s, 'enr-1', 'active', 2, 0, 1, 'u')",
            (enrollment, tenant, lead, sequence, version),
        )
        for task_id, step_id in ((non_blocking, "note"), (blocking, "call")):
            conn.execute(
                "INSERT INTO task (id, tenant_id, lead_id, enrollment_id, step_id, title, due_at, status,"
                " idempotency_key) VALUES (%s, %s, %s, %s, %s, 'T', now(), 'open', %s)",
                (task_id, tenant, lead, enrollment, step_id, f"enr-1:task:{step_id}:1"),
            )

    command.upgrade(config, "head")
    with psycopg.connect(empty_database) as conn:
        rows = dict(conn.execute("SELECT id, blocks_enrollment FROM task").fetchall())
    assert rows == {non_blocking: False, blocking: True}


def test_the_lead_created_event_of_a_whatsapp_lead_becomes_created(empty_database: str) -> None:
    config = _alembic(empty_database)
    command.upgrade(config, "0011_lead_create_idempotency")
    tenant, lead, event = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(empty_database) as conn:
        _insert_tenant(conn, tenant, "m")
        _insert_lead(conn, lead, tenant, source="whatsapp")
        conn.execute(
            "INSERT INTO timeline_event (id, tenant_id, lead_id, kind, actor, data, idempotency_key)"
            " VALUES (%s, %s, %s, 'lead_created', 'whatsapp', '{}', %s)",
            (event, tenant, lead, f"lead-created:{lead}"),
        )

    def stored() -> tuple[str, str]:
        with psycopg.connect(empty_database) as conn:
            row = conn.execute("SELECT kind, idempotency_key FROM timeline_event WHERE id = %s", (event,)).fetchone()
        assert row is not None
        return row

    command.upgrade(config, "head")
    assert stored() == ("created", f"lead:{lead}:created")
    command.downgrade(config, "0011_lead_create_idempotency")
    assert stored() == ("lead_created", f"lead-created:{lead}")


def test_leads_stored_before_background_jobs_count_as_started(empty_database: str) -> None:
    config = _alembic(empty_database)
    command.upgrade(config, "0014_webhook_inbox")
    tenant, lead = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(empty_database) as conn:
        _insert_tenant(conn, tenant, "j")
        _insert_lead(conn, lead, tenant, source="api")

    command.upgrade(config, "head")
    with psycopg.connect(empty_database) as conn:
        row = conn.execute("SELECT workflow_started_at = created_at FROM lead WHERE id = %s", (lead,)).fetchone()
    assert row == (True,)
    command.downgrade(config, "0014_webhook_inbox")


def test_a_lead_search_right_after_a_bulk_import_uses_the_trigram_indexes(empty_database: str) -> None:
    # With GIN's pending list (before 0029), freshly imported rows sat unindexed until a vacuum, and the planner read
    # the whole table for every search instead.
    config = _alembic(empty_database)
    command.upgrade(config, "head")
    tenant = uuid.uuid4()
    with psycopg.connect(empty_database) as conn:
        _insert_tenant(conn, tenant, "s")
        conn.execute(
            "INSERT INTO lead (id, tenant_id, phone, name, source, status_key, stage, timezone, custom_fields)"
            " SELECT gen_random_uuid(), %s, '+1415' || (5000000 + i), 'Imported Lead ' || i, 'import', 'new', 'new',"
            " 'UTC', '{}' FROM generate_series(1, 10000) AS i",
            (tenant,),
        )
        conn.execute("ANALYZE lead")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN SELECT * FROM lead WHERE tenant_id = %s"
                " AND (name ILIKE %s OR email ILIKE %s OR phone ILIKE %s) ORDER BY created_at DESC, id DESC LIMIT 51",
                (tenant, "%Lead 4321%", "%Lead 4321%", "%Lead 4321%"),
            )
        )
    assert "ix_lead_name_trgm" in plan, plan
    assert "Seq Scan" not in plan, plan

    command.downgrade(config, "0028_enrollment_control_record")
    with psycopg.connect(empty_database) as conn:
        options = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'ix_lead_name_trgm'").fetchone()
    assert options == (None,)


def _insert_usage(conn: psycopg.Connection, tenant_id: uuid.UUID, key: str, tokens: tuple[int, int], at: str) -> None:
    conn.execute(
        "INSERT INTO ai_usage (id, tenant_id, settings_version, purpose, model, input_tokens, cached_tokens,"
        " output_tokens, latency_ms, cost_usd, call_key, created_at)"
        " VALUES (gen_random_uuid(), %s, 1, 'reply', 'm', %s, 0, %s, 10, 0, %s, %s)"
        " ON CONFLICT (call_key) DO NOTHING",
        (tenant_id, *tokens, key, at),
    )


def _token_months(url: str) -> dict[tuple[uuid.UUID, str], int]:
    with psycopg.connect(url) as conn:
        return {(t, m): n for t, m, n in conn.execute("SELECT tenant_id, month, tokens FROM ai_token_month")}


def test_the_months_tokens_stored_before_are_summed_and_every_call_after_counts_once(empty_database: str) -> None:
    # Sessions in New York time: the months must still be UTC months, as the budget counts them (agent/budget.py).
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{empty_database.rsplit('/', 1)[1]}\" SET timezone = 'America/New_York'")
    config = _alembic(empty_database)
    command.upgrade(config, "0033_scheduled_send_first_due")
    tenant, other = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SHOW timezone").fetchone() == ("America/New_York",)
        _insert_tenant(conn, tenant, "t")
        _insert_tenant(conn, other, "o")
        _insert_usage(conn, tenant, "a", (100, 20), "2026-11-30 23:59:00+00")
        _insert_usage(conn, tenant, "b", (10, 5), "2026-12-01 00:00:00+00")
        # The evening of 30 November in New York is already December in UTC, the budget's month.
        _insert_usage(conn, tenant, "c", (1, 2), "2026-11-30 20:30:00-05")
        _insert_usage(conn, other, "d", (7, 0), "2026-12-02 10:00:00+00")

    command.upgrade(config, "head")
    assert _token_months(empty_database) == {
        (tenant, "2026-11"): 120, (tenant, "2026-12"): 18, (other, "2026-12"): 7,
    }  # fmt: skip
    with psycopg.connect(empty_database) as conn:
        _insert_usage(conn, tenant, "e", (30, 3), "2026-12-03 09:00:00+00")
        _insert_usage(conn, tenant, "e", (30, 3), "2026-12-03 09:00:00+00")  # the same call recorded again
        _insert_usage(conn, other, "f", (5, 5), "2027-01-01 00:00:00+00")
    assert _token_months(empty_database) == {
        (tenant, "2026-11"): 120, (tenant, "2026-12"): 51, (other, "2026-12"): 7, (other, "2027-01"): 10,
    }  # fmt: skip

    command.downgrade(config, "0033_scheduled_send_first_due")
    with psycopg.connect(empty_database) as conn:
        _insert_usage(conn, tenant, "g", (1, 1), "2026-12-04 00:00:00+00")  # no trigger left to fail it
        assert conn.execute("SELECT to_regclass('ai_token_month')").fetchone() == (None,)
