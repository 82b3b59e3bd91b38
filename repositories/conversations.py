"""SQL for conversations: one per lead and channel, with the read-model columns the inbox lists (latest first)."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import DateTime, Select, String, Table, bindparam, case, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from domain.ai_agent import ConversationHandler
from models import Conversation, Lead, Message
from repositories.base import Repository
from repositories.leads import LeadSearch
from repositories.webhook_inbox import INBOUND_WAITING

# Built once on the Core table: every inbound message runs it (see repositories/webhook_events.py). SET expressions
# read the row as it was before the UPDATE.
_CONVERSATIONS = cast(Table, Conversation.__table__)
_AT = bindparam("at", type_=DateTime(timezone=True))
_RECORD_INBOUND = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("conversation"))
    .values(
        last_message_at=func.greatest(func.coalesce(_CONVERSATIONS.c.last_message_at, _AT), _AT),
        last_inbound_at=func.greatest(func.coalesce(_CONVERSATIONS.c.last_inbound_at, _AT), _AT),
        last_message_preview=case(
            (func.coalesce(_CONVERSATIONS.c.last_message_at, _AT) <= _AT, bindparam("preview", type_=String)),
            else_=_CONVERSATIONS.c.last_message_preview,
        ),
        unread_count=_CONVERSATIONS.c.unread_count + 1,
    )
)
# Every send that goes out runs these two (channels/whatsapp/outbox.py): built once, as above.
_RECORD_OUTBOUND = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("conversation"))
    .values(
        last_message_at=func.greatest(func.coalesce(_CONVERSATIONS.c.last_message_at, _AT), _AT),
        last_message_preview=bindparam("preview", type_=String),
    )
)
# The conversation of a send that went out, created if it is the lead's first and its outbound message recorded, in
# one statement: a send to a lead nobody wrote to yet is the usual one in a sequence's burst.
_NEW_CONVERSATION = insert(_CONVERSATIONS).values(
    id=bindparam("new_id"),
    tenant_id=bindparam("of_tenant"),
    lead_id=bindparam("of_lead"),
    channel=bindparam("in_channel"),
    unread_count=0,
    last_message_at=_AT,
    last_message_preview=bindparam("preview", type_=String),
)
_RECORD_OUTBOUND_ON = _NEW_CONVERSATION.on_conflict_do_update(
    index_elements=[_CONVERSATIONS.c.lead_id, _CONVERSATIONS.c.channel],
    set_={
        "last_message_at": func.greatest(func.coalesce(_CONVERSATIONS.c.last_message_at, _AT), _AT),
        "last_message_preview": _NEW_CONVERSATION.excluded.last_message_preview,
    },
).returning(_CONVERSATIONS.c.id)
_CONVERSATION_ID = select(_CONVERSATIONS.c.id).where(
    _CONVERSATIONS.c.lead_id == bindparam("of_lead"), _CONVERSATIONS.c.channel == bindparam("in_channel")
)
_INBOUND_STATE = select(func.min(_CONVERSATIONS.c.opted_out_at), func.max(_CONVERSATIONS.c.last_inbound_at)).where(
    _CONVERSATIONS.c.tenant_id == bindparam("tenant"), _CONVERSATIONS.c.lead_id == bindparam("lead")
)

_MESSAGES = cast(Table, Message.__table__)
# What an AI reply's send needs to know, in one statement (one snapshot): the lead's opt-out and last inbound message,
# whether a person took the conversation over, whether the lead wrote after the reply was written (`since`), and
# whether a message of the lead received after it waits in the webhook inbox. Read before a reply goes out.
_REPLY_STATE = select(
    func.min(_CONVERSATIONS.c.opted_out_at),
    func.max(_CONVERSATIONS.c.last_inbound_at),
    func.coalesce(func.bool_or(_CONVERSATIONS.c.handler == ConversationHandler.HUMAN.value), False),
    select(_MESSAGES.c.id)
    .where(
        _MESSAGES.c.tenant_id == bindparam("tenant"),
        _MESSAGES.c.lead_id == bindparam("lead"),
        _MESSAGES.c.direction == "inbound",
        _MESSAGES.c.created_at > bindparam("since", type_=DateTime(timezone=True)),
    )
    .exists(),
    INBOUND_WAITING,
).where(_CONVERSATIONS.c.tenant_id == bindparam("tenant"), _CONVERSATIONS.c.lead_id == bindparam("lead"))


@dataclass(frozen=True, slots=True)
class ReplyState:
    """The lead's conversation as an AI reply's send sees it (`ConversationRepository.reply_state`)."""

    opted_out_at: datetime | None
    last_inbound_at: datetime | None
    taken_over: bool  # a person answers the lead now
    wrote_since: bool  # an inbound message was stored after the reply was written
    waiting: bool  # an inbound message received after the reply was written is not handled yet


# Whose conversations: one user's leads, leads without an owner, or everyone's (None).
ConversationOwner = uuid.UUID | Literal["unassigned"] | None
# Who answers them: a ConversationHandler value, or everyone's (None).
ConversationHandlerFilter = Literal["ai", "human", "unassigned"] | None


@dataclass(frozen=True, slots=True)
class InboxLead:
    """The lead as the inbox shows it."""

    id: uuid.UUID
    name: str
    phone: str
    status_key: str
    owner_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class InboxConversation:
    """A conversation as the inbox lists it: plain values, not a tracked entity (a page is 50 of them with their
    leads, and the ORM's per-entity bookkeeping was most of the inbox's CPU)."""

    id: uuid.UUID
    channel: str
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    last_message_preview: str
    unread_count: int
    opted_out_at: datetime | None
    handler: str


_INBOX_CONVERSATION = (
    Conversation.id,
    Conversation.channel,
    Conversation.last_message_at,
    Conversation.last_inbound_at,
    Conversation.last_message_preview,
    Conversation.unread_count,
    Conversation.opted_out_at,
    Conversation.handler,
)
_INBOX_LEAD = (Lead.id, Lead.name, Lead.phone, Lead.status_key, Lead.owner_id)


@dataclass(frozen=True, slots=True)
class InboxPage:
    rows: list[tuple[InboxConversation, InboxLead]]
    unread_total: int


def _unread_total(tenant_id: uuid.UUID) -> Select[int]:
    return select(func.coalesce(func.sum(Conversation.unread_count), 0)).where(Conversation.tenant_id == tenant_id)


class ConversationRepository(Repository[Conversation]):
    model = Conversation

    async def get_or_create(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, channel: str) -> Conversation:
        # Most messages belong to a conversation that exists: one read then, the insert only for a new one.
        existing = await self.session.execute(
            select(Conversation)
            .where(Conversation.lead_id == lead_id, Conversation.channel == channel)
            .execution_options(populate_existing=True)
        )
        conversation = existing.scalar_one_or_none()
        if conversation is not None:
            return conversation
        created = await self.session.scalars(
            insert(Conversation)
            .values(id=uuid.uuid4(), tenant_id=tenant_id, lead_id=lead_id, channel=channel, unread_count=0)
            .on_conflict_do_nothing(index_elements=[Conversation.lead_id, Conversation.channel])
            .returning(Conversation),
            execution_options={"populate_existing": True},
        )
        conversation = created.one_or_none()
        if conversation is not None:
            return conversation
        # A concurrent message created it first: then it is simply found.
        result = await self.session.execute(
            select(Conversation)
            .where(Conversation.lead_id == lead_id, Conversation.channel == channel)
            .execution_options(populate_existing=True)
        )
        return result.scalar_one()

    async def list_for_lead(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> list[Conversation]:
        """The lead's conversations, one per channel, by channel."""
        return await self._all(
            select(Conversation)
            .where(Conversation.tenant_id == tenant_id, Conversation.lead_id == lead_id)
            .order_by(Conversation.channel)
        )

    async def get_for_lead(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, channel: str) -> Conversation | None:
        result = await self.session.execute(
            select(Conversation).where(
                Conversation.tenant_id == tenant_id, Conversation.lead_id == lead_id, Conversation.channel == channel
            )
        )
        return result.scalar_one_or_none()

    async def record_inbound(self, *, conversation_id: uuid.UUID, at: datetime, preview: str) -> None:
        """Count the message as unread; it becomes the preview only if it is not older than the latest one.

        Providers deliver out of order (and redeliver refused deliveries later): a late older message must not put
        its text beside the newest message's time.
        """
        await self.session.execute(
            _RECORD_INBOUND, {"conversation": conversation_id, "at": at, "preview": preview[:200]}
        )

    async def record_outbound(self, *, conversation_id: uuid.UUID, at: datetime, preview: str) -> None:
        await self.session.execute(
            _RECORD_OUTBOUND, {"conversation": conversation_id, "at": at, "preview": preview[:200]}
        )

    async def outbound_target(
        self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, channel: str, at: datetime, preview: str
    ) -> tuple[uuid.UUID, bool]:
        """The lead's conversation in `channel` for an outbound message, and whether it still needs `record_outbound`.

        An existing conversation is read without a lock: the caller records the message on it last, so the row (which
        the lead's replies update too) stays locked only until the commit. A new one is created with the message
        recorded (one statement; nobody else holds the new row)."""
        found = await self.session.scalar(_CONVERSATION_ID, {"of_lead": lead_id, "in_channel": channel})
        if found is not None:
            return found, True
        return await self.record_outbound_on(
            tenant_id=tenant_id, lead_id=lead_id, channel=channel, at=at, preview=preview
        ), False

    async def record_outbound_on(
        self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, channel: str, at: datetime, preview: str
    ) -> uuid.UUID:
        """`record_outbound` on the lead's conversation in `channel`, created if need be; its id. One statement."""
        params = {
            "new_id": uuid.uuid4(),
            "of_tenant": tenant_id,
            "of_lead": lead_id,
            "in_channel": channel,
            "at": at,
            "preview": preview[:200],
        }
        recorded: uuid.UUID = (await self.session.execute(_RECORD_OUTBOUND_ON, params)).scalar_one()
        return recorded

    async def mark_read(self, *, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> uuid.UUID | None:
        """The conversation's lead, or None when the tenant has no such conversation."""
        result = await self.session.execute(
            update(Conversation)
            .where(Conversation.tenant_id == tenant_id, Conversation.id == conversation_id)
            .values(unread_count=0)
            .returning(Conversation.lead_id)
        )
        return result.scalar_one_or_none()

    async def list_latest(
        self,
        *,
        tenant_id: uuid.UUID,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None = None,
        owner: ConversationOwner = None,
        unread_only: bool = False,
        search: LeadSearch | None = None,
        handler: ConversationHandlerFilter = None,
    ) -> InboxPage:
        """Conversations with at least one message, latest message first, keyset-paginated below `after`, and the
        tenant's unread total (read with the page: one round trip instead of two).

        `owner`: a user id (their leads' conversations), "unassigned" (leads without an owner) or None (all);
        `search` matches the lead as the leads list's search does. Rows come back as plain values with only what the
        inbox shows."""
        conditions = [Conversation.tenant_id == tenant_id, Conversation.last_message_at.is_not(None)]
        if owner == "unassigned":
            conditions.append(Lead.owner_id.is_(None))
        elif owner is not None:
            conditions.append(Lead.owner_id == owner)
        if unread_only:
            conditions.append(Conversation.unread_count > 0)
        if handler is not None:
            conditions.append(Conversation.handler == handler)
        if search is not None:
            conditions.append(search.condition())
        if after is not None:
            conditions.append(tuple_(Conversation.last_message_at, Conversation.id) < tuple_(after[0], after[1]))
        result = await self.session.execute(
            select(*_INBOX_CONVERSATION, *_INBOX_LEAD, _unread_total(tenant_id).scalar_subquery())
            .select_from(Conversation)
            .join(Lead, Lead.id == Conversation.lead_id)
            .where(*conditions)
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .limit(limit)
        )
        split, end = len(_INBOX_CONVERSATION), len(_INBOX_CONVERSATION) + len(_INBOX_LEAD)
        values: list[tuple[Any, ...]] = [tuple(row) for row in result.all()]
        rows = [(InboxConversation(*row[:split]), InboxLead(*row[split:end])) for row in values]
        unread = int(values[0][end]) if values else await self.unread_total(tenant_id=tenant_id)
        return InboxPage(rows=rows, unread_total=unread)

    async def unread_total(self, *, tenant_id: uuid.UUID) -> int:
        result = await self.session.execute(_unread_total(tenant_id))
        return int(result.scalar_one())

    async def inbound_state(
        self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID
    ) -> tuple[datetime | None, datetime | None]:
        """When the lead opted out (first) and last wrote (latest) over its conversations, in one statement."""
        result = await self.session.execute(_INBOUND_STATE, {"tenant": tenant_id, "lead": lead_id})
        opted_out_at, last_inbound_at = result.one()
        return opted_out_at, last_inbound_at

    async def reply_state(
        self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, phone: str, written_at: datetime
    ) -> ReplyState:
        """The lead's conversation for a reply written at `written_at` (Leadflow's clock), in one statement."""
        params = {"tenant": tenant_id, "lead": lead_id, "phone": phone, "since": written_at}
        row = (await self.session.execute(_REPLY_STATE, params)).one()
        return ReplyState(*row)

    async def latest_tenant_for_phone(self, *, tenant_ids: list[uuid.UUID], phone: str) -> uuid.UUID | None:
        """Among `tenant_ids`, the one whose lead with this phone was most recently in conversation."""
        result = await self.session.execute(
            select(Lead.tenant_id)
            .outerjoin(Conversation, Conversation.lead_id == Lead.id)
            .where(Lead.tenant_id.in_(tenant_ids), Lead.phone == phone)
            .order_by(Conversation.last_message_at.desc().nulls_last(), Lead.created_at)
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def mark_opted_out(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, at: datetime) -> None:
        """Record the lead's opt-out on its WhatsApp conversation (created if need be); the first time is kept."""
        conversation = await self.get_or_create(tenant_id=tenant_id, lead_id=lead_id, channel="whatsapp")
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id)
            .values(opted_out_at=func.coalesce(Conversation.opted_out_at, at))
        )

    async def set_handler(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, handler: str) -> None:
        """Mirror who answers the lead (the lead workflow's decision) on its WhatsApp conversation (created if need
        be)."""
        conversation = await self.get_or_create(tenant_id=tenant_id, lead_id=lead_id, channel="whatsapp")
        await self.session.execute(
            update(Conversation).where(Conversation.id == conversation.id).values(handler=handler)
        )

    async def opted_out_at(self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> datetime | None:
        result = await self.session.execute(
            select(func.min(Conversation.opted_out_at)).where(
                Conversation.tenant_id == tenant_id, Conversation.lead_id == lead_id
            )
        )
        return result.scalar_one_or_none()
