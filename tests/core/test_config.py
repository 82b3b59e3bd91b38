"""Settings refused in prod: built-in secrets and the provider sandbox (whose credentials are built in)."""

import pytest
from pydantic import ValidationError

from core.config import BUILT_IN_ADMIN_PASSWORD, PLACEHOLDER_SECRET, SANDBOX_FIELDS, Settings

REAL = {"secret_key": "a-real-secret-of-this-deployment", "bootstrap_admin_password": "a-real-admin-password"}


def _refusal(**values: object) -> str:
    with pytest.raises(ValidationError) as refused:
        Settings(env="prod", **{**REAL, **values})  # type: ignore[arg-type]
    return str(refused.value)


def test_prod_with_real_secrets_and_no_sandbox_is_accepted_and_refuses_sandbox_accounts() -> None:
    settings = Settings(env="prod", **REAL)  # type: ignore[arg-type]
    assert settings.sandbox_allowed is False
    assert Settings(env="dev").sandbox_allowed is True


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"secret_key": PLACEHOLDER_SECRET}, "LEADFLOW_SECRET_KEY must be set"),
        ({"secret_key_fallbacks": ["an-old-key", PLACEHOLDER_SECRET]}, "LEADFLOW_SECRET_KEY_FALLBACKS"),
        ({"bootstrap_admin_password": BUILT_IN_ADMIN_PASSWORD}, "LEADFLOW_BOOTSTRAP_ADMIN_PASSWORD"),
        ({"sandbox_base_url": "http://sandbox:8025"}, "unset LEADFLOW_SANDBOX_BASE_URL"),
        ({"whatsapp_sandbox_app_secret": "sandbox-app-secret"}, "unset LEADFLOW_WHATSAPP_SANDBOX_APP_SECRET"),
        ({"whatsapp_sandbox_access_token": "x"}, "unset LEADFLOW_WHATSAPP_SANDBOX_ACCESS_TOKEN"),
        ({"whatsapp_sandbox_evolution_api_key": "x"}, "unset LEADFLOW_WHATSAPP_SANDBOX_EVOLUTION_API_KEY"),
    ],
)
def test_prod_refuses_each_built_in_secret_and_sandbox_setting(values: dict[str, object], named: str) -> None:
    assert named in _refusal(**values)


def test_every_sandbox_credential_counts_as_a_sandbox_setting() -> None:
    credentials = {name for name in Settings.model_fields if name.startswith("whatsapp_sandbox_")}
    assert credentials <= SANDBOX_FIELDS and "sandbox_base_url" in SANDBOX_FIELDS


def test_an_empty_sandbox_url_is_no_sandbox() -> None:
    """docker-compose.prod.yml blanks the base file's LEADFLOW_SANDBOX_BASE_URL."""
    Settings(env="prod", sandbox_base_url="", **REAL)  # type: ignore[arg-type]


def test_dev_and_test_keep_the_built_in_defaults() -> None:
    for env in ("dev", "test"):
        settings = Settings(env=env, sandbox_base_url="http://127.0.0.1:8025")  # type: ignore[arg-type]
        assert settings.secret_key == PLACEHOLDER_SECRET and settings.sandbox_allowed
