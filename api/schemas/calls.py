"""HTTP shapes of calls: how the tenant's calls are placed, click-to-call, the call as stored, its transcript,
dispositions, live calls."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.base import InputBody
from domain.calls import CallDisposition


class CallOptions(BaseModel):
    """What a caller needs to choose how to place a call, without the telephony account (owner/admin only)."""

    agent_number: str | None = Field(
        description="the phone click-to-call rings first unless the agent gives their own (`agent_phone`); null: "
        "the agent gives one, or calls the lead directly (`ring_agent_first: false`)"
    )
    direct_answer: Literal["agent", "ai", "message"] = Field(
        description="what a lead called directly hears once they pick up: `agent` connects `agent_number`, `ai` the "
        "voice agent, `message` the account's answer message; a voicemail gets the account's voicemail policy"
    )


class ClickToCall(InputBody):
    """Ring the agent first, then bridge the lead; or (`ring_agent_first: false`) call the lead directly, answered
    by the account's configured answer (agent's phone, voice agent, message) with voicemail detection."""

    ring_agent_first: bool = True

    agent_phone: str | None = Field(
        default=None, max_length=40, description="the agent's phone; default: the account's agent number"
    )
    from_number: str | None = Field(
        default=None, max_length=40, description="one of the caller ids; default: the first"
    )


class TranscriptTurnPublic(BaseModel):
    speaker: Literal["caller", "agent"]
    text: str
    at: datetime


class CallPublic(BaseModel):
    id: uuid.UUID
    lead_id: uuid.UUID
    attempt: int
    direction: str
    origin: str
    status: str
    answered_by: str | None
    disposition: str | None
    disposition_by: str | None
    disposition_note: str | None
    callback_at: datetime | None
    duration_seconds: int | None
    to_number: str
    from_number: str
    agent_id: uuid.UUID | None
    agent_phone: str | None
    provider_sid: str | None
    recording_url: str | None
    recording_duration_seconds: int | None
    workflow_id: str
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None


class CallDetail(CallPublic):
    transcript: list[TranscriptTurnPublic]
    summary: str | None = Field(description="the AI agent's summary of the conversation, written after the call")
    suggested_disposition: str | None = Field(
        description="the AI agent's suggested disposition; set it with POST /calls/{id}/disposition to apply it"
    )
    summary_by: str | None = Field(description="who wrote the summary: `ai:v<agent settings version>`")


class CallList(BaseModel):
    items: list[CallPublic]


class DispositionUpdate(InputBody):
    disposition: CallDisposition
    note: str | None = Field(default=None, max_length=2000)
    callback_at: datetime | None = Field(default=None, description="when to call the lead back (timezone-aware)")


class LiveCall(BaseModel):
    call_id: uuid.UUID
    lead_id: uuid.UUID
    status: str
    direction: str | None = None
    agent_id: uuid.UUID | None = None
    since: datetime


class LiveCallList(BaseModel):
    items: list[LiveCall]
