"""The `./run up` banner names the PostgreSQL and Redis in use: an inherited LEADFLOW_DATABASE_URL or
LEADFLOW_REDIS_URL replaces the private servers, so the banner says so and prints the URL without its password. Its
Temporal CLI line carries the address, which the CLI does not read from LEADFLOW_TEMPORAL_ADDRESS."""

from pathlib import Path

from core.config import Settings
from devstack.stack import Stack, masked_url


def test_inherited_store_urls_are_named_with_the_password_masked(tmp_path: Path) -> None:
    settings = Settings(
        env="dev",
        dev_state_dir=str(tmp_path),
        database_url="postgresql://leadflow:s3cret-pw@db.example.internal:5432/leadflow",
        redis_url="redis://:r3dis-pw@cache.example.internal:6379/2",
        seed_demo=False,
    )
    banner = Stack(settings).banner()
    assert "postgresql://leadflow:***@db.example.internal:5432/leadflow" in banner
    assert "redis://:***@cache.example.internal:6379/2" in banner
    assert "from LEADFLOW_DATABASE_URL; the private PostgreSQL is not used" in banner
    assert "from LEADFLOW_REDIS_URL; the private Redis is not used" in banner
    assert "s3cret-pw" not in banner and "r3dis-pw" not in banner


def test_private_stores_are_named_private(tmp_path: Path) -> None:
    settings = Settings(env="dev", dev_state_dir=str(tmp_path), database_url=None, redis_url=None, seed_demo=False)
    banner = Stack(settings).banner()
    assert "LEADFLOW_DATABASE_URL" not in banner and "LEADFLOW_REDIS_URL" not in banner
    assert "(private, " in banner and "(private Valkey, " in banner


def test_a_url_without_password_prints_as_it_is() -> None:
    assert masked_url("postgresql://postgres@127.0.0.1:5432/x") == "postgresql://postgres@127.0.0.1:5432/x"
    assert masked_url("redis://user:p%40ss@h:1/0") == "redis://user:***@h:1/0"


def test_the_temporal_cli_line_carries_the_address_in_use(tmp_path: Path) -> None:
    settings = Settings(
        env="dev", dev_state_dir=str(tmp_path), temporal_address="127.0.0.1:17233", temporal_namespace="crm"
    )
    banner = Stack(settings).banner()
    assert ".venv/bin/temporal workflow list --address 127.0.0.1:17233 --namespace crm" in banner
