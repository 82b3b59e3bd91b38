"""The AI agent's activities: plan a turn, run a turn (model + tools + usage + guardrail), save and settle drafts,
and write an `ai_message` sequence step's message (model + usage + guardrail; the step sends it through the outbox).

Thin over agent/: the factory gives the tenant's agent, agent/turn.py runs the model loop, agent/lead_tools.py runs
the tools for the turn's own lead. The model's failures map onto Temporal's retries: rate limits, server errors and
timeouts are retryable (after the provider's Retry-After), a refused request or an exhausted quota is not. Logs
carry ids, decisions and token counts, never message bodies or phone numbers.

The tenant's `ai_agent` feature flag is read here, never in the workflow: off, a turn is planned as mode `off` (the
workflow skips it) and a turn already planned answers `no_reply`.
"""

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import openai
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from agent.budget import BudgetState, budget_state, month_key
from agent.factory import Agent, AgentFactory
from agent.guardrail import check_reply
from agent.lead_tools import LeadTools, TurnScope
from agent.prompt import ConversationLine, LeadFacts, build_messages, fact_lines, outreach_messages
from agent.turn import CallUsage, ToolRunner, run_turn
from core.config import Settings
from core.db import autocommit_session
from core.feature_flags import FeatureFlagReader
from core.live_events import LiveEvent, LiveEvents, LiveEventType
from core.queues import AI_HEARTBEAT_EVERY
from domain.ai_agent import AgentMode
from domain.feature_flags import FeatureFlag
from domain.notifications import NotificationKind
from domain.stages import Stage
from domain.whatsapp_messages import (
    CONVERSATION_MOVED_ON,
    SendWhatsAppInput,
    SendWhatsAppResult,
    send_idempotency_key,
)
from models import Lead, Message
from repositories.ai_drafts import AiDraftRepository
from repositories.ai_usage import AiUsageRepository
from repositories.conversations import ConversationRepository
from repositories.leads import LeadRepository
from repositories.messages import MessageRepository
from repositories.notifications import NotificationRepository
from repositories.outbox import OutboxRepository
from repositories.statuses import StatusRepository
from repositories.tasks import TaskRepository
from repositories.timeline import TimelineRepository
from workflows.ai_types import (
    AI_ACTOR,
    COMPOSE_AI_MESSAGE,
    NOTE_AI_MESSAGE_FALLBACK,
    PLAN_AI_TURN,
    RUN_AI_TURN,
    SAVE_AI_DRAFT,
    SETTLE_AI_DRAFT,
    AiDecisionKind,
    AiDraftInput,
    AiDraftRef,
    AiDraftSettled,
    AiDraftSettlement,
    AiMessageComposed,
    AiMessageFallback,
    AiMessageRequest,
    AiTurnInput,
    AiTurnPlan,
    AiTurnPlanRequest,
    AiTurnResult,
    ai_reply_actor,
    ai_reply_send,
)
from workflows.failures import WorkflowFailure

log = logging.getLogger(__name__)

MODEL_REFUSED = WorkflowFailure.AI_MODEL_REFUSED
QUOTA_EXHAUSTED = WorkflowFailure.AI_QUOTA_EXHAUSTED
MODEL_UNAVAILABLE = WorkflowFailure.AI_MODEL_UNAVAILABLE


def _retry_after(error: openai.APIStatusError) -> timedelta | None:
    value = error.response.headers.get("retry-after")
    try:
        return timedelta(seconds=float(value)) if value else None
    except ValueError:
        return None


@contextlib.asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """The attempt says it is alive while the model thinks, so a worker that dies mid-turn is noticed within the
    heartbeat timeout (core/queues.py) and the turn re-runs elsewhere. The first beat comes after AI_HEARTBEAT_EVERY:
    Temporal counts the timeout from the attempt's start until then, and a model that answers sooner (most do) costs
    no heartbeat call at all."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(AI_HEARTBEAT_EVERY.total_seconds())
            activity.heartbeat()

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


def _superseded(recent: list[Message], answers: uuid.UUID) -> bool:
    """Whether the lead wrote after the message a turn was started for: an inbound message stored in a later
    transaction (the dispatcher stores a person's messages in order, one run per transaction), or the message is no
    longer among the recent ones."""
    answered = next((m for m in recent if m.id == answers), None)
    if answered is None:
        return True
    return any(m.direction == "inbound" and m.created_at > answered.created_at for m in recent)


class _NoTools:
    """An `ai_message` step offers the model no tools."""

    async def run(self, tool: Any, args: Any) -> dict[str, Any]:
        raise AssertionError("no tool is offered")


_NO_TOOLS: ToolRunner = _NoTools()


class AiActivities:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        factory: AgentFactory,
        client: Client,
        settings: Settings,
        flags: FeatureFlagReader,
        live: LiveEvents | None = None,
        send_reply: Callable[[SendWhatsAppInput], Awaitable[SendWhatsAppResult]] | None = None,
    ) -> None:
        self.sessions = session_factory
        self.factory = factory
        self.client = client
        self.settings = settings
        self.flags = flags
        self.live = live
        # `whatsapp.send_message` itself (outbox, window, opt-out, pacing): a turn asked to sends its auto reply.
        self.send_reply = send_reply

    @activity.defn(name=PLAN_AI_TURN)
    async def plan_turn(self, request: AiTurnPlanRequest) -> AiTurnPlan:
        if not await self.flags.enabled(request.tenant_id, FeatureFlag.AI_AGENT):
            log.info("AI turn of lead %s skipped: the ai_agent flag is off", request.lead_id)
            return AiTurnPlan(mode=AgentMode.OFF, settings_version=0)
        async with autocommit_session(self.sessions) as session:
            config = await self.factory.config_for(session, tenant_id=request.tenant_id)
            lead = await LeadRepository(session).get(tenant_id=request.tenant_id, lead_id=request.lead_id)
        if config is None or config.mode == AgentMode.OFF or lead is None:
            return AiTurnPlan(mode=AgentMode.OFF, settings_version=config.version if config else 0)
        opens_at = config.answer_hours.next_opening(datetime.now(UTC), lead.timezone) if config.answer_hours else None
        return AiTurnPlan(
            mode=config.mode,
            settings_version=config.version,
            debounce_seconds=config.debounce_seconds,
            opens_at=opens_at,
            draft_timeout_minutes=config.draft_timeout_minutes,
            planned_at=datetime.now(UTC),
        )

    @activity.defn(name=RUN_AI_TURN)
    async def run_turn(self, data: AiTurnInput) -> AiTurnResult:
        if data.send_step is not None and self.send_reply is not None and activity.info().attempt > 1:
            handed = await self._handed_to_the_outbox(data)
            if handed is not None:
                return handed
        # Read while the debounce's last stretch runs, so up to ~2 s before it ends: the agent's settings, the lead, its
        # opt-out, the budget, the statuses (a change in that stretch is seen by the next turn; the outbox checks the
        # opt-out, the stage and the conversation's handler again at the send). After it: the conversation.
        prepared = await self._prepare_turn(data)
        if isinstance(prepared, AiTurnResult):
            return prepared
        agent, lead, statuses = prepared
        config = agent.config
        if data.not_before is not None:
            # The end of the debounce, waited here (workflows/ai_types.py says why): what follows reads the state then.
            await asyncio.sleep(max(0.0, (data.not_before - datetime.now(UTC)).total_seconds()))
        async with autocommit_session(self.sessions) as session:
            recent = await MessageRepository(session).list_for_lead(
                tenant_id=data.tenant_id, lead_id=data.lead_id, limit=self.settings.ai_history_messages
            )
        # What the turn has read: a message stored after it was not seen by the model.
        seen = max((m.created_at for m in recent if m.direction == "inbound"), default=None)
        if data.answers_message_id is not None and _superseded(recent, data.answers_message_id):
            return AiTurnResult(
                kind=AiDecisionKind.NO_REPLY,
                reason="a newer message came during the debounce: its own turn answers",
                settings_version=config.version,
            )
        conversation = [ConversationLine(inbound=m.direction == "inbound", text=m.body) for m in reversed(recent)]
        facts = LeadFacts.of(lead)
        messages = build_messages(config, facts, conversation, datetime.now(ZoneInfo(lead.timezone)))
        scope = TurnScope(
            tenant_id=data.tenant_id,
            tenant_slug=data.tenant_slug,
            lead_id=data.lead_id,
            turn_key=data.turn_key,
            active_enrollments=data.active_enrollments,
        )
        attempt = activity.info().attempt

        async def record(call: CallUsage) -> None:
            await self._record_usage(
                data.tenant_id, data.lead_id, config.version, call, key=f"{data.turn_key}:a{attempt}:r{call.round}"
            )

        async with self._calling_the_model():
            outcome = await run_turn(
                agent.client,
                config,
                messages,
                LeadTools(self.sessions, self.client, scope, lead, self.flags),
                lead_id=str(data.lead_id),
                status_keys=statuses,
                max_rounds=self.settings.ai_max_tool_rounds,
                record_usage=record,
            )
        await self._check_soft_budget(config.tenant_id, config.monthly_token_budget_soft)
        needs_approval = None
        if outcome.kind == AiDecisionKind.REPLY:
            allowed = fact_lines(config.facts) + outcome.tool_texts() + [c.text for c in conversation if c.inbound]
            verdict = check_reply(outcome.text, allowed=allowed)
            if not verdict.ok:
                needs_approval = verdict.reason
            elif config.mode == AgentMode.DRAFT:
                needs_approval = "draft_mode"
        log.info(
            "ai turn %s of lead %s: %s (%d tool calls%s)",
            data.turn_key,
            data.lead_id,
            outcome.kind.value,
            len(outcome.tools),
            ", held for approval" if needs_approval else "",
        )
        result = AiTurnResult(
            kind=outcome.kind,
            text=outcome.text,
            needs_approval=needs_approval,
            reason=outcome.reason,
            settings_version=config.version,
            tools_run=tuple(run.name for run in outcome.tools),
        )
        if result.kind == AiDecisionKind.REPLY and result.text and needs_approval is None and data.send_step:
            return await self._send_reply(data, result, seen)
        return result

    async def _prepare_turn(self, data: AiTurnInput) -> AiTurnResult | tuple[Agent, Lead, list[str]]:
        """The tenant's agent, the lead (detached from its session) and the tenant's status keys; or the turn's answer
        when it has nothing to do (feature or agent off, the lead gone or opted out, the hard budget used up)."""
        if not await self.flags.enabled(data.tenant_id, FeatureFlag.AI_AGENT):
            return AiTurnResult(kind=AiDecisionKind.NO_REPLY, reason="the ai_agent feature is off for this tenant")
        async with autocommit_session(self.sessions) as session:
            agent = await self.factory.agent_for(session, tenant_id=data.tenant_id)
            if agent is None or agent.config.mode == AgentMode.OFF:
                return AiTurnResult(kind=AiDecisionKind.NO_REPLY, reason="the AI agent is off")
            config = agent.config
            lead = await LeadRepository(session).get(tenant_id=data.tenant_id, lead_id=data.lead_id)
            if lead is None:
                return AiTurnResult(kind=AiDecisionKind.NO_REPLY, reason="the lead no longer exists")
            opted_out = await ConversationRepository(session).opted_out_at(
                tenant_id=data.tenant_id, lead_id=data.lead_id
            )
            if opted_out is not None or lead.stage == Stage.OPTED_OUT:
                return AiTurnResult(kind=AiDecisionKind.NO_REPLY, reason="the lead opted out")
            used = await self._tokens_this_month(session, config.tenant_id, config.monthly_token_budget_hard)
            statuses = [s.key for s in await StatusRepository(session).list(tenant_id=data.tenant_id)]
            # The ORM objects stay in this session: copy what the tools need.
            session.expunge(lead)
        # Past the session: the hard budget's alert takes a connection (and a transaction) of its own.
        if await self._over_budget(
            config.tenant_id, used, config.monthly_token_budget_soft, config.monthly_token_budget_hard
        ):
            return AiTurnResult(
                kind=AiDecisionKind.NO_REPLY,
                reason="the monthly token budget is used up: the agent is paused",
                settings_version=config.version,
            )
        return agent, lead, statuses

    async def _send_reply(self, data: AiTurnInput, result: AiTurnResult, seen: datetime | None) -> AiTurnResult:
        """The turn's auto reply, sent here through the outbox (its step the workflow's own send would use). Written
        for the conversation as stored up to `seen`: the outbox refuses it if the lead wrote again or a person took the
        conversation over since, deciding in the transaction that claims the send (after pacing), so nothing is sent
        and the newer message's own turn answers. A send that fails otherwise (throttled, unconfirmed) is left to the
        workflow's send activity, which finds the same outbox row and makes the same check."""
        if self.send_reply is None or seen is None:
            return result
        return await self._deliver(data, result.model_copy(update={"conversation_read_at": seen}))

    async def _handed_to_the_outbox(self, data: AiTurnInput) -> AiTurnResult | None:
        """A re-run of a turn whose earlier attempt already gave its reply to the outbox: that reply is the turn's
        (delivered, or left to the send activity), and the model is not asked again. None: no such reply."""
        assert data.send_step is not None
        async with self.sessions() as session:
            row = await OutboxRepository(session).get(
                idempotency_key=send_idempotency_key(data.workflow_id, data.send_step)
            )
        handed = SendWhatsAppInput.model_validate(row.payload) if row is not None else None
        if handed is None or not handed.text:
            return None
        log.info("ai turn %s of lead %s: the reply was handed to the outbox before", data.turn_key, data.lead_id)
        return await self._deliver(
            data,
            AiTurnResult(kind=AiDecisionKind.REPLY, text=handed.text, conversation_read_at=handed.conversation_read_at),
        )

    async def _deliver(self, data: AiTurnInput, result: AiTurnResult) -> AiTurnResult:
        """`result`'s reply through the outbox under the turn's step; unsent (left to the workflow) if that fails, and
        no reply at all if the conversation moved on."""
        assert self.send_reply is not None and data.send_step is not None
        send = ai_reply_send(
            tenant_id=data.tenant_id,
            lead_id=data.lead_id,
            workflow_id=data.workflow_id,
            step=data.send_step,
            text=result.text or "",
            requested_by=ai_reply_actor(result.settings_version),
            conversation_read_at=result.conversation_read_at,
        )
        try:
            sent = await self.send_reply(send)
        except ApplicationError as error:
            if error.type == CONVERSATION_MOVED_ON:
                log.info("ai turn %s of lead %s: reply dropped, the conversation moved on", data.turn_key, data.lead_id)
                return result.model_copy(
                    update={"kind": AiDecisionKind.NO_REPLY, "reason": "the lead wrote again, or a person took over"}
                )
            log.info(
                "ai turn %s of lead %s: reply left to the send activity (%s)", data.turn_key, data.lead_id, error.type
            )
            return result
        return result.model_copy(update={"sent_message_id": sent.message_id})

    @activity.defn(name=COMPOSE_AI_MESSAGE)
    async def compose_message(self, data: AiMessageRequest) -> AiMessageComposed:
        """An `ai_message` step's message: one model call (no tools) on the instructions and the lead's fields.

        Answers a `fallback_reason` instead of calling the model when the agent (or its feature flag) is off or its
        hard budget is used up; raises the model's failures like a turn does (the workflow sends the fallback once
        they are final)."""
        if not await self.flags.enabled(data.tenant_id, FeatureFlag.AI_AGENT):
            return AiMessageComposed(fallback_reason="the ai_agent feature is off for this tenant")
        async with autocommit_session(self.sessions) as session:
            agent = await self.factory.agent_for(session, tenant_id=data.tenant_id)
            if agent is None or agent.config.mode == AgentMode.OFF:
                return AiMessageComposed(fallback_reason="the AI agent is off")
            config = agent.config
            lead = await LeadRepository(session).get(tenant_id=data.tenant_id, lead_id=data.lead_id)
            if lead is None:
                return AiMessageComposed(fallback_reason="the lead no longer exists", settings_version=config.version)
            used = await self._tokens_this_month(session, config.tenant_id, config.monthly_token_budget_hard)
            session.expunge(lead)
        # Past the session: the hard budget's alert takes a connection (and a transaction) of its own.
        if await self._over_budget(
            config.tenant_id, used, config.monthly_token_budget_soft, config.monthly_token_budget_hard
        ):
            return AiMessageComposed(
                fallback_reason="the monthly AI token budget is used up", settings_version=config.version
            )
        facts = LeadFacts.of(lead)
        messages = outreach_messages(config, facts, data.instructions, datetime.now(ZoneInfo(lead.timezone)))
        attempt = activity.info().attempt

        async def record(call: CallUsage) -> None:
            await self._record_usage(
                data.tenant_id,
                data.lead_id,
                config.version,
                call,
                key=f"{data.key}:a{attempt}:r{call.round}",
                purpose="sequence",
            )

        async with self._calling_the_model():
            outcome = await run_turn(
                agent.client,
                dataclasses.replace(config, tools=()),
                messages,
                _NO_TOOLS,
                lead_id=str(data.lead_id),
                status_keys=[],
                max_rounds=0,
                record_usage=record,
            )
        await self._check_soft_budget(config.tenant_id, config.monthly_token_budget_soft)
        if outcome.kind != AiDecisionKind.REPLY or not outcome.text:
            return AiMessageComposed(fallback_reason="the model wrote no message", settings_version=config.version)
        # The owner's instructions may state what the facts do not (this month's offer): they are allowed too.
        verdict = check_reply(outcome.text, allowed=[*fact_lines(config.facts), data.instructions])
        needs_approval = (
            verdict.reason if not verdict.ok else ("draft_mode" if config.mode == AgentMode.DRAFT else None)
        )
        log.info(
            "ai message %s for lead %s written%s",
            data.key,
            data.lead_id,
            ", held for approval" if needs_approval else "",
        )
        return AiMessageComposed(
            text=outcome.text,
            needs_approval=needs_approval,
            settings_version=config.version,
            draft_timeout_minutes=config.draft_timeout_minutes,
        )

    @activity.defn(name=NOTE_AI_MESSAGE_FALLBACK)
    async def note_message_fallback(self, data: AiMessageFallback) -> None:
        """The lead's timeline says an `ai_message` step sent its fallback text, and why (once per execution)."""
        async with self.sessions() as session, session.begin():
            await TimelineRepository(session).record(
                tenant_id=data.tenant_id,
                lead_id=data.lead_id,
                kind="ai_message_fallback",
                actor=AI_ACTOR,
                data={"enrollment_id": str(data.enrollment_id), "step_id": data.step_id, "reason": data.reason},
                idempotency_key=f"{data.key}:ai_fallback",
            )
        log.info("ai message %s for lead %s: fallback sent (%s)", data.key, data.lead_id, data.reason)

    @contextlib.asynccontextmanager
    async def _calling_the_model(self) -> AsyncIterator[None]:
        """Heartbeats while the model answers; its failures become the errors the workflows' retry policies know."""
        try:
            async with _heartbeating():
                yield
        except openai.APIStatusError as error:
            raise self._model_failure(error) from None
        except (openai.APITimeoutError, openai.APIConnectionError) as error:
            raise ApplicationError(
                f"the model did not answer: {type(error).__name__}", type=MODEL_UNAVAILABLE
            ) from None

    def _model_failure(self, error: openai.APIStatusError) -> ApplicationError:
        body: Any = error.body
        code = body.get("code") if isinstance(body, dict) else None
        if error.status_code == 429 and code == "insufficient_quota":
            return ApplicationError(
                "the model provider's quota is used up: check the plan and billing of the AI agent's API key",
                type=QUOTA_EXHAUSTED,
                non_retryable=True,
            )
        if error.status_code == 429 or error.status_code >= 500:
            return ApplicationError(
                f"the model answered {error.status_code}", type=MODEL_UNAVAILABLE, next_retry_delay=_retry_after(error)
            )
        return ApplicationError(
            f"the model refused the request ({error.status_code}): check the agent's model, base URL and key",
            type=MODEL_REFUSED,
            non_retryable=True,
        )

    async def _record_usage(
        self,
        tenant_id: uuid.UUID,
        lead_id: uuid.UUID,
        version: int,
        call: CallUsage,
        *,
        key: str,
        purpose: str = "reply",
    ) -> None:
        row = call.usage_row(
            tenant_id=tenant_id, lead_id=lead_id, settings_version=version, purpose=purpose, call_key=key
        )
        async with autocommit_session(self.sessions) as session:
            await AiUsageRepository(session).record(row)

    @staticmethod
    async def _tokens_this_month(session: AsyncSession, tenant_id: Any, hard: int | None) -> int:
        """The tenant's tokens this month, read only when a hard budget can pause the agent (one statement a turn
        would otherwise run for nothing)."""
        if hard is None:
            return 0
        return await AiUsageRepository(session).tokens_in_month(tenant_id=tenant_id, month=month_key(datetime.now(UTC)))

    async def _over_budget(self, tenant_id: Any, used: int, soft: int | None, hard: int | None) -> bool:
        """Whether the hard budget is used up; the first time in a month, the alert and the owners' notifications are
        written together, in a transaction of their own."""
        if budget_state(used, soft=soft, hard=hard) != BudgetState.HARD_REACHED or hard is None:
            return False
        now = datetime.now(UTC)
        month = month_key(now)
        owners: list[uuid.UUID] = []
        async with self.sessions() as session, session.begin():
            if await AiUsageRepository(session).raise_alert(
                tenant_id=tenant_id, month=month, level="hard", tokens_used=used, budget=hard
            ):
                owners = await self._tell_owners(session, tenant_id, month, "hard", used, hard)
                log.warning(
                    "tenant %s: AI token budget (hard, %d) used up: the agent pauses until %s ends",
                    tenant_id,
                    hard,
                    month,
                )
        await self._published(tenant_id, owners)
        return True

    async def _check_soft_budget(self, tenant_id: Any, soft: int | None) -> None:
        if soft is None:
            return
        now = datetime.now(UTC)
        month = month_key(now)
        owners: list[uuid.UUID] = []
        async with self.sessions() as session, session.begin():
            repository = AiUsageRepository(session)
            used = await repository.tokens_in_month(tenant_id=tenant_id, month=month)
            if used >= soft and await repository.raise_alert(
                tenant_id=tenant_id, month=month, level="soft", tokens_used=used, budget=soft
            ):
                # In the alert's transaction: the alert and the owners' notifications are written once, together.
                owners = await self._tell_owners(session, tenant_id, month, "soft", used, soft)
                log.warning("tenant %s: AI token budget (soft, %d) reached: owners are told", tenant_id, soft)
        await self._published(tenant_id, owners)

    async def _tell_owners(
        self, session: AsyncSession, tenant_id: uuid.UUID, month: str, level: str, used: int, budget: int
    ) -> list[uuid.UUID]:
        """A web notification to each active owner (once per month and level); the owners newly told."""
        notifications = NotificationRepository(session)
        if level == "soft":
            title = f"AI agent: {used:,} tokens used in {month}, past the soft budget of {budget:,}"
        else:
            title = f"AI agent paused: the hard budget of {budget:,} tokens for {month} is used up"
        return await notifications.notify(
            tenant_id=tenant_id,
            user_ids=await notifications.tenant_owners(tenant_id=tenant_id),
            kind=NotificationKind.AI_BUDGET,
            title=title,
            lead_id=None,
            key=f"ai_budget:{tenant_id}:{month}:{level}",
            data={"level": level, "month": month, "tokens_used": used, "budget": budget},
        )

    async def _conversation_changed(self, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> None:
        """A draft of the lead's conversation was saved or settled (committed): the open inboxes refetch it."""
        if self.live is not None:
            data = {"lead_id": str(lead_id)}
            await self.live.publish(LiveEvent(tenant_id, LiveEventType.CONVERSATION_CHANGED, data))

    async def _published(self, tenant_id: uuid.UUID, people: list[uuid.UUID]) -> None:
        """Tell the newly notified people live, once their notifications committed."""
        if self.live is not None and people:
            kind = LiveEventType.NOTIFICATION_CREATED
            await self.live.publish(*(LiveEvent(tenant_id, kind, {}, user_id=person) for person in people))

    @activity.defn(name=SAVE_AI_DRAFT)
    async def save_draft(self, data: AiDraftInput) -> AiDraftRef:
        async with self.sessions() as session, session.begin():
            draft = await AiDraftRepository(session).create_once(
                {
                    "tenant_id": data.tenant_id,
                    "lead_id": data.lead_id,
                    "workflow_id": data.workflow_id,
                    "turn_key": data.turn_key,
                    "text": data.text,
                    "reason": data.reason[:300],
                    "settings_version": data.settings_version,
                }
            )
            draft_id = draft.id
            # Whoever answers for the lead hears of it: its owner, else the tenant's owners and admins (once a draft).
            lead = await LeadRepository(session).get(tenant_id=data.tenant_id, lead_id=data.lead_id)
            notifications = NotificationRepository(session)
            people = (
                [lead.owner_id]
                if lead and lead.owner_id
                else await notifications.tenant_managers(tenant_id=data.tenant_id)
            )
            notified = await notifications.notify(
                tenant_id=data.tenant_id,
                user_ids=people,
                kind=NotificationKind.AI_DRAFT_WAITING,
                title=f"AI draft waiting for approval: {(lead.name if lead else '') or 'a lead'}",
                lead_id=data.lead_id,
                key=f"ai_draft:{draft_id}:waiting",
                data={"draft_id": str(draft_id), "reason": data.reason[:300]},
            )
        await self._conversation_changed(data.tenant_id, data.lead_id)  # the open inboxes show the draft
        await self._published(data.tenant_id, notified)
        return AiDraftRef(draft_id=draft_id)

    @activity.defn(name=SETTLE_AI_DRAFT)
    async def settle_draft(self, data: AiDraftSettlement) -> AiDraftSettled:
        now = datetime.now(UTC)
        async with self.sessions() as session, session.begin():
            drafts = AiDraftRepository(session)
            draft = await drafts.get(tenant_id=data.tenant_id, draft_id=data.draft_id)
            if draft is None:
                return AiDraftSettled()
            task_id = draft.task_id
            if data.status == "expired" and task_id is None:
                lead = await LeadRepository(session).get(tenant_id=data.tenant_id, lead_id=data.lead_id)
                name = lead.name if lead and lead.name else "the lead"
                task = await TaskRepository(session).create_once(
                    {
                        "tenant_id": data.tenant_id,
                        "lead_id": data.lead_id,
                        "title": f"Answer {name}: an AI draft waited too long",
                        "description": "The AI agent's draft reply was not approved in time; answer the lead.",
                        "assignee_id": lead.owner_id if lead else None,
                        "due_at": now,
                        "blocks_enrollment": False,
                        "idempotency_key": f"ai_draft:{data.draft_id}:expired",
                    }
                )
                task_id = task.id
            await drafts.settle(
                draft_id=data.draft_id,
                values={
                    "status": data.status,
                    "final_text": data.final_text,
                    "decided_by": data.actor,
                    "message_id": uuid.UUID(data.message_id) if data.message_id else None,
                    "task_id": task_id,
                },
                at=now,
            )
            await TimelineRepository(session).record(
                tenant_id=data.tenant_id,
                lead_id=data.lead_id,
                kind=f"ai_draft_{data.status}",
                actor=data.actor if data.actor else AI_ACTOR,
                data={
                    "draft_id": str(data.draft_id),
                    "reason": data.reason,
                    "task_id": str(task_id) if task_id else None,
                },
                idempotency_key=f"ai_draft:{data.draft_id}:{data.status}",
            )
        await self._conversation_changed(data.tenant_id, data.lead_id)
        return AiDraftSettled(task_id=task_id)
