"""What one sandbox process starts with; built from `core.config.Settings` (the only environment reader)."""

from dataclasses import dataclass

from core.config import Settings


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    base_url: str
    access_token: str  # the Graph API bearer token every unregistered phone number id accepts
    app_secret: str  # signs Meta webhooks of unregistered phone number ids
    phone_number_id: str
    evolution_api_key: str  # the global Evolution key: accepted for every instance
    openai_api_key: str = "sandbox-openai-key"  # the bearer key the sandbox model accepts
    twilio_auth_token: str = "sandbox-twilio-auth-token"  # the auth token of every unregistered Twilio account
    cloud_webhook_url: str | None = None
    evolution_webhook_url: str | None = None  # "{instance}" is replaced by the instance name
    status_interval_seconds: float = 0.2
    waba_id: str = "102938475610293"
    display_phone_number: str = "14155550100"

    @classmethod
    def from_settings(cls, settings: Settings, *, base_url: str | None = None) -> "SandboxConfig":
        return cls(
            base_url=base_url or settings.sandbox_url(),
            access_token=settings.whatsapp_sandbox_access_token,
            app_secret=settings.whatsapp_sandbox_app_secret,
            phone_number_id=settings.whatsapp_sandbox_phone_number_id,
            evolution_api_key=settings.whatsapp_sandbox_evolution_api_key,
            openai_api_key=settings.openai_sandbox_api_key,
            twilio_auth_token=settings.twilio_sandbox_auth_token,
            cloud_webhook_url=settings.whatsapp_sandbox_cloud_webhook_url,
            evolution_webhook_url=settings.whatsapp_sandbox_evolution_webhook_url,
            status_interval_seconds=settings.whatsapp_sandbox_status_interval_seconds,
        )
