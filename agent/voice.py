"""The AI voice agent: the tenant's AI agent answering a caller turn by turn, and summarising the call afterwards.

`AiVoiceAgent.reply` is a `VoiceAgent` (activities/calls.py): one model call per caller utterance, short spoken
sentences, two tools (`end_call`, and `handoff_to_human` when the tenant enabled it and has an agent number), the facts
guardrail on what it says. It answers only when the tenant's agent is on in `auto` mode, its `ai_agent` flag is on
and its monthly hard budget is not used up (a draft-mode agent's words wait for a person's approval, which a live
call cannot); otherwise, and whenever the model fails or is slower than `LEADFLOW_CALL_AI_REPLY_TIMEOUT_SECONDS`, the
tenant's scripted prompts answer the turn, so a caller always hears something well inside Twilio's 15 s.

`AiVoiceAgent.summarize` writes the call's summary and a suggested disposition (never applied by itself: an agent
confirms it) from the transcript, under the same conditions; None when the AI may not or cannot answer.

Every model call is recorded in `ai_usage` (purpose `call`) under a key of its own (the call, the turn, the
request): a retried turn is a second model call and counts as one. Logs carry ids and decisions, never what was said.
"""

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import openai
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.budget import BudgetState, budget_state, month_key
from agent.factory import Agent, AgentFactory
from agent.guardrail import check_reply
from agent.prompt import LeadFacts, fact_lines, system_prompt
from agent.tools import tool_definitions
from agent.turn import CallUsage, complete
from core.config import Settings
from core.db import autocommit_session
from core.feature_flags import FeatureFlagReader
from domain.ai_agent import AgentMode, AgentTool
from domain.calls import CallDisposition, VoiceScript
from domain.feature_flags import FeatureFlag
from models import Call, Lead, TelephonyAccount
from repositories.ai_usage import AiUsageRepository
from workflows.call_types import CallSummary, TranscriptTurn, VoiceReply, VoiceTurn

log = logging.getLogger(__name__)

VOICE_RULES = (
    "You are speaking with the lead on a phone call, on behalf of the business.\n"
    "Answer what the caller just said in one or two short, natural spoken sentences, in the caller's language: no"
    " lists, no links, no emoji.\n"
    "Only state prices, dates, offers and promises that appear in the business facts below; when you do not know,"
    " say a colleague will confirm.\n"
    "When the caller asks for a person, call handoff_to_human. When the conversation is over (the caller says"
    " goodbye, is not interested, or asks not to be called), call end_call with a short goodbye."
)
SUMMARY_RULES = (
    "Summarise the phone call below for the CRM, in two or three sentences: what the caller wants and what was"
    " agreed. Then suggest the call's disposition, one of: "
    "interested, not_interested, callback_requested, wrong_number, do_not_call, human_connected.\n"
    'Answer with JSON only: {"summary": "...", "disposition": "..."}'
)
END_CALL_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "end_call",
        "description": "End the phone call after saying a short goodbye.",
        "parameters": {
            "type": "object",
            "properties": {"goodbye": {"type": "string", "description": "the last thing to say"}},
            "required": ["goodbye"],
            "additionalProperties": False,
        },
    },
}
HANDOFF_LINE = "Let me connect you with a colleague. One moment, please."
UNSUPPORTED_LINE = "A colleague will confirm that for you. Is there anything else I can help you with?"
NOTHING_LINE = "Is there anything else I can help you with?"
SUGGESTED_DISPOSITIONS = frozenset(
    {
        CallDisposition.INTERESTED,
        CallDisposition.NOT_INTERESTED,
        CallDisposition.CALLBACK_REQUESTED,
        CallDisposition.WRONG_NUMBER,
        CallDisposition.DO_NOT_CALL,
        CallDisposition.HUMAN_CONNECTED,
    }
)


class FallbackVoiceAgent(Protocol):
    async def reply(self, *, account: TelephonyAccount, turn: VoiceTurn) -> VoiceReply: ...


@dataclass(frozen=True, slots=True)
class _Scene:
    agent: Agent
    lead_id: uuid.UUID
    facts: LeadFacts


class AiVoiceAgent:
    def __init__(
        self,
        *,
        factory: AgentFactory,
        session_factory: async_sessionmaker[AsyncSession],
        flags: FeatureFlagReader,
        settings: Settings,
        fallback: FallbackVoiceAgent,
    ) -> None:
        self._factory = factory
        self._sessions = session_factory
        self._flags = flags
        self._settings = settings
        self._fallback = fallback

    async def reply(self, *, account: TelephonyAccount, turn: VoiceTurn) -> VoiceReply:
        scene = await self._scene(turn.tenant_id, turn.call_id)
        if scene is None or not any(t.speaker == "caller" for t in turn.transcript):
            return await self._fallback.reply(account=account, turn=turn)
        number = sum(1 for t in turn.transcript if t.speaker == "caller")
        try:
            reply = await self._voice_turn(scene, account, turn.transcript, key=f"call:{turn.call_id}:turn{number}")
        except (openai.APIError, ValueError) as error:
            log.warning("call %s: AI voice turn %d failed (%s): scripted reply", turn.call_id, number, error)
            return await self._fallback.reply(account=account, turn=turn)
        log.info("call %s: AI voice turn %d: %s", turn.call_id, number, reply.action)
        return reply

    async def summarize(
        self, *, tenant_id: uuid.UUID, call_id: uuid.UUID, transcript: tuple[TranscriptTurn, ...]
    ) -> CallSummary | None:
        scene = await self._scene(tenant_id, call_id)
        if scene is None:
            return None
        if not any(t.speaker == "caller" for t in transcript):
            return None
        lines = "\n".join(f"{'Caller' if t.speaker == 'caller' else 'Agent'}: {t.text}" for t in transcript)
        config = scene.agent.config
        messages = [
            {
                "role": "system",
                "content": system_prompt(config, scene.facts, self._local_now(scene), rules=SUMMARY_RULES),
            },
            {"role": "user", "content": lines},
        ]
        try:
            completion = await self._complete(
                scene, messages, tools=None, key=f"call:{call_id}:summary", request_timeout=None
            )
            parsed = json.loads((completion.choices[0].message.content or "").strip())
            summary = str(parsed["summary"]).strip()[:2000]
            disposition = CallDisposition(str(parsed.get("disposition", "")))
        except (openai.APIError, ValueError, KeyError, TypeError) as error:
            log.warning("call %s: no AI summary (%s)", call_id, type(error).__name__)
            return None
        if disposition not in SUGGESTED_DISPOSITIONS or not summary:
            return None
        return CallSummary(summary=summary, suggested_disposition=disposition, by=f"ai:v{config.version}")

    async def _scene(self, tenant_id: uuid.UUID, call_id: uuid.UUID) -> _Scene | None:
        """The tenant's agent and the call's lead, when the AI may answer; None for the scripted fallback."""
        if not await self._flags.enabled(tenant_id, FeatureFlag.AI_AGENT):
            return None
        async with self._sessions() as session:
            agent = await self._factory.agent_for(session, tenant_id=tenant_id)
            if agent is None or agent.config.mode != AgentMode.AUTO:
                return None
            config = agent.config
            used = await AiUsageRepository(session).tokens_in_month(
                tenant_id=tenant_id, month=month_key(datetime.now(UTC))
            )
            hard = config.monthly_token_budget_hard
            soft = config.monthly_token_budget_soft
            if budget_state(used, soft=soft, hard=hard) == BudgetState.HARD_REACHED:
                log.info("tenant %s: AI token budget used up: calls get the scripted voice", tenant_id)
                return None
            call = await session.get(Call, call_id)
            lead = await session.get(Lead, call.lead_id) if call is not None else None
            if lead is None or lead.tenant_id != tenant_id:
                return None
            facts = LeadFacts.of(lead)
            return _Scene(agent=agent, lead_id=lead.id, facts=facts)

    @staticmethod
    def _local_now(scene: _Scene) -> datetime:
        return datetime.now(ZoneInfo(scene.facts.timezone))

    async def _voice_turn(
        self, scene: _Scene, account: TelephonyAccount, transcript: tuple[TranscriptTurn, ...], *, key: str
    ) -> VoiceReply:
        config = scene.agent.config
        script = VoiceScript.model_validate(account.voice_script or {})
        messages: list[dict[str, Any]] = [
            {
                "role": "system",
                "content": system_prompt(config, scene.facts, self._local_now(scene), rules=VOICE_RULES),
            },
            {"role": "assistant", "content": script.opening},
        ]
        messages += [
            {"role": "user" if t.speaker == "caller" else "assistant", "content": t.text} for t in transcript if t.text
        ]
        can_hand_off = AgentTool.HANDOFF_TO_HUMAN in config.tools and bool(account.agent_number)
        tools = [END_CALL_TOOL, *(tool_definitions((AgentTool.HANDOFF_TO_HUMAN,), []) if can_hand_off else [])]
        completion = await self._complete(
            scene, messages, tools=tools, key=key, request_timeout=self._settings.call_ai_reply_timeout_seconds
        )
        message = completion.choices[0].message
        for call in message.tool_calls or []:
            if call.type != "function":
                continue
            if call.function.name == AgentTool.HANDOFF_TO_HUMAN and can_hand_off:
                return VoiceReply(say=HANDOFF_LINE, action="handoff", handoff_number=account.agent_number)
            if call.function.name == "end_call":
                goodbye = str(json.loads(call.function.arguments or "{}").get("goodbye") or "").strip()
                return VoiceReply(say=self._checked(goodbye, scene, transcript) or script.closing, action="hang_up")
        text = (message.content or "").strip()
        return VoiceReply(say=self._checked(text, scene, transcript) or NOTHING_LINE, action="listen")

    @staticmethod
    def _checked(text: str, scene: _Scene, transcript: tuple[TranscriptTurn, ...]) -> str:
        """The facts guardrail: a claim the agent was not given is not said; a colleague confirms it instead."""
        if not text:
            return text
        allowed = fact_lines(scene.agent.config.facts) + [t.text for t in transcript if t.speaker == "caller"]
        return text if check_reply(text, allowed=allowed).ok else UNSUPPORTED_LINE

    async def _complete(
        self,
        scene: _Scene,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None,
        key: str,
        request_timeout: float | None,
    ) -> Any:
        client = scene.agent.client
        if request_timeout is not None:
            client = client.with_options(timeout=request_timeout)
        key = f"{key}:{uuid.uuid4().hex[:12]}"
        started = time.monotonic()
        completion = await complete(client, scene.agent.config, messages, lead_id=scene.lead_id, tools=tools)
        await self._record_usage(scene, completion, key=key, latency_ms=int((time.monotonic() - started) * 1000))
        return completion

    async def _record_usage(self, scene: _Scene, completion: Any, *, key: str, latency_ms: int) -> None:
        config = scene.agent.config
        call = CallUsage.of(completion, config, latency_ms=latency_ms, round=1)
        row = call.usage_row(
            tenant_id=config.tenant_id,
            lead_id=scene.lead_id,
            settings_version=config.version,
            purpose="call",
            call_key=key,
        )
        async with autocommit_session(self._sessions) as session:
            await AiUsageRepository(session).record(row)
