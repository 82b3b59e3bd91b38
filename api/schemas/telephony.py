"""HTTP shapes of the tenant's telephony account (auth token write-only) and its call policy."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.base import InputBody
from core.validation_messages import readable_pattern
from domain.calls import DEFAULT_CONSENT_PROMPT, VoiceScript

ACCOUNT_SID_PATTERN = readable_pattern(
    r"^AC[0-9a-fA-F]{32}$", "a Twilio account SID: AC and 32 hexadecimal digits, as Twilio's console shows it"
)


class TelephonyAccountUpdate(InputBody):
    """Replace the account. `auth_token` left out (null) keeps the stored one; "" clears it."""

    provider: Literal["twilio", "sandbox"] = Field(description="`sandbox`: the local provider sandbox (not in prod)")
    account_sid: str = Field(pattern=ACCOUNT_SID_PATTERN, description="the Twilio account SID, AC + 32 hex")
    auth_token: str | None = Field(default=None, min_length=0, max_length=200)
    caller_ids: list[str] = Field(min_length=1, max_length=20, description="numbers calls come from, any format")
    concurrent_call_limit: int = Field(default=5, ge=1, le=1000)
    calls_per_second: float = Field(default=1.0, gt=0, le=100, description="Twilio's default is 1")
    ring_timeout_seconds: int = Field(default=30, ge=5, le=600)
    recording_enabled: bool = False
    recording_consent_prompt: str = Field(default=DEFAULT_CONSENT_PROMPT, max_length=1000)
    voicemail_policy: Literal["drop_message", "hang_up"] = "hang_up"
    voicemail_message: str = Field(default="", max_length=2000, description="required by `drop_message`")
    human_answer_mode: Literal["agent", "ai", "message"] = "message"
    answer_message: str = Field(default="", max_length=2000, description="what `message` says to a person")
    agent_number: str | None = Field(default=None, max_length=40, description="the phone `agent` connects to")
    voice_script: VoiceScript = Field(default_factory=VoiceScript)
    retry_max_attempts: int = Field(default=1, ge=1, le=10, description="attempts of an unanswered call in all")
    retry_spacing_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    inbound_routing: Literal["agent", "ai", "voicemail"] = "voicemail"


class TelephonyAccountPublic(BaseModel):
    provider: str
    account_sid: str
    has_auth_token: bool
    caller_ids: list[str]
    concurrent_call_limit: int
    calls_per_second: float
    ring_timeout_seconds: int
    recording_enabled: bool
    recording_consent_prompt: str
    voicemail_policy: str
    voicemail_message: str
    human_answer_mode: str
    answer_message: str
    agent_number: str | None
    voice_script: VoiceScript
    retry_max_attempts: int
    retry_spacing_minutes: int
    inbound_routing: str
    voice_url: str = Field(description="set this as the Voice URL (POST) of the caller-id numbers for inbound calls")
    updated_at: datetime
