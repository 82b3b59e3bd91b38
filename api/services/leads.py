"""Lead use cases behind the REST API: validate, read and write through repositories, talk to the LeadWorkflow.

Nothing here commits: a workflow is started or told of a change after the request's transaction committed
(api/transaction.py), so it never sees a lead row that is not there yet; a status change, which waits for the
workflow's answer, ends the request's reads first. Every lookup is scoped by tenant, so another tenant's lead is a
404 like a missing one.
"""

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from api.idempotency import IdempotencyKeyReused, fingerprint
from api.schemas.base import from_row
from api.schemas.leads import LeadCreate, LeadDetail, LeadPublic, LeadStatusChange, LeadUpdate, TimelineEventPublic
from api.services import found, not_found
from api.transaction import after_commit, end_reads
from core.errors import Conflict, Unprocessable
from core.phone import InvalidPhone, normalize_phone, timezone_for_phone
from domain.stages import TERMINAL_STAGES, Stage
from models import Lead, StatusDefinition, Tenant
from repositories.enrollments import EnrollmentRepository
from repositories.leads import LeadRepository, LeadSearch
from repositories.statuses import StatusRepository
from repositories.timeline import TimelineRepository
from repositories.users import UserRepository
from workflow_clients.lead import LeadWorkflowClient
from workflows.ids import lead_workflow_id

LIST_LIMIT_MAX = 200
# A create or import retried after its workflows failed to start comes within this (a retry comes within minutes,
# Temporal's retention of closed workflows takes days): an older lead is taken to have had its workflow.
CREATE_RETRY_WINDOW = timedelta(hours=1)


class DuplicatePhone(Conflict):
    """409 naming the lead that already has this phone."""

    def __init__(self, existing: Lead) -> None:
        super().__init__(
            f"a lead with phone {existing.phone} already exists in this tenant (lead {existing.id})",
            details={"field": "phone", "lead_id": str(existing.id), "phone": existing.phone},
        )


async def get_lead(*, session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> Lead:
    """The lead, or 404 when it does not exist in this tenant."""
    return found(await LeadRepository(session).get(tenant_id=tenant_id, lead_id=lead_id), "lead", lead_id)


async def lead_detail(*, session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> LeadDetail:
    """The lead with its owner's name (404 when not in this tenant).

    Only the name of this lead's owner: an agent, who may not list the tenant's users, learns no more than who owns
    a lead they may read anyway (its `owner_id` is in every lead answer)."""
    lead, owner_name = found(
        await LeadRepository(session).get_with_owner_name(tenant_id=tenant_id, lead_id=lead_id), "lead", lead_id
    )
    # The lead's fields are validated as LeadPublic's; only the owner's name comes in beside them.
    return LeadDetail.model_construct(**dict(LeadPublic.model_validate(lead)), owner_name=owner_name)


def parse_phone(raw: str, *, region: str, field: str = "phone") -> str:
    """E.164 form of `raw`, or 422 naming the field and the reason."""
    try:
        return normalize_phone(raw, region)
    except InvalidPhone as exc:
        raise Unprocessable(
            f"{field}: '{raw}' is not a valid phone number ({exc.reason})",
            details=[{"field": field, "reason": exc.reason, "value": raw}],
        ) from None


async def _check_owner(*, session: AsyncSession, tenant_id: uuid.UUID, owner_id: uuid.UUID) -> None:
    owner = await UserRepository(session).get(tenant_id=tenant_id, user_id=owner_id)
    if owner is None:
        raise Unprocessable(
            f"owner_id: no user {owner_id} in this tenant",
            details=[{"field": "owner_id", "reason": "no such user in this tenant"}],
        )
    if not owner.is_active:
        raise Unprocessable(
            f"owner_id: user {owner.email} is deactivated",
            details=[{"field": "owner_id", "reason": "user is deactivated"}],
        )


class CreateAttempt(StrEnum):
    """How a POST /leads relates to the lead it answers with."""

    FIRST = "first"  # this request inserted the lead
    KEY_REPLAY = "key_replay"  # the same Idempotency-Key and body as the request that created it
    SAME_BODY = "same_body"  # no key, the same body as the creating request: a retry only if no workflow ever started


@dataclass(frozen=True)
class LeadCreation:
    lead: Lead
    attempt: CreateAttempt


async def create_lead(
    *,
    session: AsyncSession,
    workflows: LeadWorkflowClient,
    tenant: Tenant,
    data: LeadCreate,
    actor: str,
    idempotency_key: str | None = None,
) -> LeadCreation:
    """Validate and insert a lead with its `created` timeline event; its workflow starts after the commit.

    A lead already created by this same request (its Idempotency-Key, or without a key its body) is answered instead
    of a new one, its workflow started if the first attempt could not (`finish_earlier_attempt`); another request
    for a taken phone is DuplicatePhone, and a key sent before with another body is IdempotencyKeyReused.
    """
    leads, statuses = LeadRepository(session), StatusRepository(session)
    phone = parse_phone(data.phone, region=tenant.default_region)
    if data.owner_id is not None:
        await _check_owner(session=session, tenant_id=tenant.id, owner_id=data.owner_id)
    if data.status is not None:
        status = await statuses.get_by_key(tenant_id=tenant.id, key=data.status)
        if status is None:
            raise Unprocessable(
                f"status: '{data.status}' is not one of this tenant's statuses",
                details=[{"field": "status", "reason": "unknown status key"}],
            )
    else:
        status = await statuses.get_default(tenant_id=tenant.id)
        if status is None:
            raise Unprocessable("this tenant has no status of stage 'new' to start leads in; define one first")
    request_fingerprint = fingerprint(
        {**data.model_dump(mode="json", exclude={"phone", "status"}), "phone": phone, "status": status.key}
    )
    earlier = await _earlier_attempt(
        leads, tenant_id=tenant.id, phone=phone, key=idempotency_key, request_fingerprint=request_fingerprint
    )
    if earlier is not None:
        await finish_earlier_attempt(session=session, workflows=workflows, tenant=tenant, creation=earlier)
        return earlier
    lead = Lead(
        tenant_id=tenant.id,
        phone=phone,
        name=data.name,
        email=data.email,
        source=data.source,
        owner_id=data.owner_id,
        status_key=status.key,
        stage=status.stage,
        timezone=timezone_for_phone(phone, tenant.timezone),
        custom_fields=data.custom_fields,
        create_idempotency_key=idempotency_key,
        create_fingerprint=request_fingerprint,
    )
    if (taken := await leads.add_unless_taken(lead)) is not None:
        # Another request inserted the same phone (or key) between our check and our insert, and has committed.
        raced = await _earlier_attempt(
            leads, tenant_id=tenant.id, phone=phone, key=idempotency_key, request_fingerprint=request_fingerprint
        )
        if raced is None:
            raise taken
        await finish_earlier_attempt(session=session, workflows=workflows, tenant=tenant, creation=raced)
        return raced
    await TimelineRepository(session).record_lead_created(lead=lead, actor=actor)
    start_workflow_after_commit(session=session, workflows=workflows, tenant=tenant, lead=lead)
    return LeadCreation(lead=lead, attempt=CreateAttempt.FIRST)


async def _earlier_attempt(
    leads: LeadRepository, *, tenant_id: uuid.UUID, phone: str, key: str | None, request_fingerprint: str
) -> LeadCreation | None:
    """The lead an earlier attempt of this request created; None when the phone is free; else refused.

    Only the creating request's own retry may get the lead back: a concurrent create with other data for the same
    number must hear 409, or its data would be dropped while it is told it was saved.
    """
    if key is not None:
        by_key = await leads.get_by_create_idempotency_key(tenant_id=tenant_id, key=key)
        if by_key is not None:
            return _replayed(by_key, key=key, request_fingerprint=request_fingerprint)
    existing = await leads.get_by_phone(tenant_id=tenant_id, phone=phone)
    if existing is None:
        return None
    if key is not None and existing.create_idempotency_key == key:
        # The attempt with this key committed between the two reads above: it is still this request's lead.
        return _replayed(existing, key=key, request_fingerprint=request_fingerprint)
    if key is None and existing.create_fingerprint == request_fingerprint:
        return LeadCreation(lead=existing, attempt=CreateAttempt.SAME_BODY)
    raise DuplicatePhone(existing)


def _replayed(lead: Lead, *, key: str, request_fingerprint: str) -> LeadCreation:
    """The lead an earlier attempt with `key` created, if it had this body; IdempotencyKeyReused otherwise."""
    if lead.create_fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(key, resource="lead", resource_id=str(lead.id))
    return LeadCreation(lead=lead, attempt=CreateAttempt.KEY_REPLAY)


def start_workflow_after_commit(
    *, session: AsyncSession, workflows: LeadWorkflowClient, tenant: Tenant, lead: Lead
) -> None:
    """Start the lead's workflow once the lead is committed, and mark it started; 503 explaining the lead is saved
    when Temporal fails (the sweeper starts it later unless the retry does)."""

    async def start() -> None:
        await workflows.start(tenant=tenant, lead=lead)
        await LeadRepository(session).mark_workflow_started(lead_ids=[lead.id])

    after_commit(
        session,
        start,
        failure="the lead was saved but its workflow could not be started; send the same request again to start it",
        details={"lead_id": str(lead.id), "phone": lead.phone},
    )


async def finish_earlier_attempt(
    *, session: AsyncSession, workflows: LeadWorkflowClient, tenant: Tenant, creation: LeadCreation
) -> None:
    """Complete a create that an earlier attempt of the same request began (this request writes nothing new).

    A key replay always gets its lead, its workflow started if the first attempt could not. A same-body request
    without a key is the retry of a create answered 503 only while the lead's workflow has never started; after that
    it is a duplicate (409), as the client cannot otherwise tell its retry from a second submission.

    Temporal forgets closed workflows after the namespace's retention period, so an older lead in a terminal stage
    counts as having had its workflow (such a retry comes within minutes, retention takes days).
    """
    lead = creation.lead
    recent = lead.stage not in TERMINAL_STAGES or lead.created_at >= datetime.now(UTC) - CREATE_RETRY_WINDOW
    if recent and not await workflows.exists(tenant_slug=tenant.slug, lead_id=lead.id):
        start_workflow_after_commit(session=session, workflows=workflows, tenant=tenant, lead=lead)
        return
    if recent:  # a workflow that ran and closed (a won lead) is left alone: only a missing one is started
        await LeadRepository(session).mark_workflow_started(lead_ids=[lead.id])
    if creation.attempt is CreateAttempt.SAME_BODY:
        raise DuplicatePhone(lead)


# Listing ------------------------------------------------------------------------------------------------------------


def encode_cursor(lead: Lead) -> str:
    raw = json.dumps([lead.created_at.isoformat(), str(lead.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, lead_id = json.loads(raw)
        if not isinstance(created_at, str) or not isinstance(lead_id, str):
            raise TypeError("a cursor holds two strings")  # uuid.UUID(5) would raise AttributeError
        parsed = datetime.fromisoformat(created_at)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed, uuid.UUID(lead_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise Unprocessable(
            "cursor: not a cursor returned by this API (pass next_cursor unchanged)",
            details=[{"field": "cursor", "reason": "malformed cursor"}],
        ) from exc


_PHONE_CHARS = re.compile(r"^[\d\s()+\-.]+$")


def read_search(q: str | None, *, region: str) -> LeadSearch | None:
    """What a search box's text finds on leads (None for a blank one): the text itself, and when it reads as a
    phone number (national numbers in the tenant's `region`) or a fragment of one, that number and its digits, so a
    number written as the app shows it, "(415) 555-0123", finds the stored "+14155550123"."""
    text = (q or "").strip()
    if not text:
        return None
    try:
        phone: str | None = normalize_phone(text, region)
    except InvalidPhone:
        phone = None
    digits = None
    if _PHONE_CHARS.match(text):
        # A fragment of a number as people type it ("555 0123"): compare its digits with the stored E.164.
        only_digits = re.sub(r"\D", "", text)
        digits = only_digits if len(only_digits) >= 3 else None
    return LeadSearch(text=text, phone=phone, phone_digits=digits)


async def list_leads(
    *,
    session: AsyncSession,
    tenant: Tenant,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
    stage: Stage | None = None,
    owner_id: uuid.UUID | None = None,
    q: str | None = None,
) -> tuple[list[Lead], str | None]:
    """One page of leads, newest first, and the cursor of the next page (None on the last)."""
    after = decode_cursor(cursor) if cursor else None
    if status is not None and await StatusRepository(session).get_by_key(tenant_id=tenant.id, key=status) is None:
        raise Unprocessable(
            f"status: '{status}' is not one of this tenant's statuses",
            details=[{"field": "status", "reason": "unknown status key"}],
        )
    rows = await LeadRepository(session).search(
        tenant_id=tenant.id,
        limit=limit + 1,
        after=after,
        status_key=status,
        stage=stage.value if stage is not None else None,
        owner_id=owner_id,
        search=read_search(q, region=tenant.default_region),
    )
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
    return page, next_cursor


# Changes ------------------------------------------------------------------------------------------------------------


async def update_lead(
    *,
    session: AsyncSession,
    workflows: LeadWorkflowClient,
    tenant: Tenant,
    lead_id: uuid.UUID,
    data: LeadUpdate,
    actor: str,
) -> Lead:
    """Apply the fields sent; records an `updated` timeline event naming what changed. A name, phone or owner sent
    reaches the workflow after the commit."""
    leads = LeadRepository(session)
    lead = await get_lead(session=session, tenant_id=tenant.id, lead_id=lead_id)
    sent = data.model_fields_set
    if sent & WORKFLOW_FIELDS:
        _refresh_workflow_after_commit(session=session, workflows=workflows, tenant=tenant, lead=lead)
    changes: dict[str, Any] = {}
    if "phone" in sent:
        if data.phone is None:
            raise Unprocessable("phone: a lead must keep a phone", details=[{"field": "phone", "reason": "required"}])
        phone = parse_phone(data.phone, region=tenant.default_region)
        if phone != lead.phone:
            other = await leads.get_by_phone(tenant_id=tenant.id, phone=phone)
            if other is not None:
                raise DuplicatePhone(other)
            changes["phone"] = phone
            changes["timezone"] = timezone_for_phone(phone, tenant.timezone)
    if "name" in sent:
        changes["name"] = data.name or ""
    if "email" in sent:
        changes["email"] = data.email
    if "owner_id" in sent:
        if data.owner_id is not None:
            await _check_owner(session=session, tenant_id=tenant.id, owner_id=data.owner_id)
        changes["owner_id"] = data.owner_id
    if "custom_fields" in sent:
        changes["custom_fields"] = data.custom_fields or {}
    changes = {key: value for key, value in changes.items() if getattr(lead, key) != value}
    if not changes:
        return lead
    for key, value in changes.items():
        setattr(lead, key, value)
    try:
        async with session.begin_nested():
            await leads.flush()
    except StaleDataError:
        # A DELETE of the lead committed between this request's read and its write.
        raise not_found("lead", lead_id) from None
    except IntegrityError:
        raced = await leads.get_by_phone(tenant_id=tenant.id, phone=changes.get("phone", ""))
        if raced is None:
            raise
        raise DuplicatePhone(raced) from None
    await leads.refresh(lead)
    await TimelineRepository(session).record(
        tenant_id=tenant.id,
        lead_id=lead.id,
        kind="updated",
        actor=actor,
        data={"fields": sorted(key for key in changes if key != "timezone")},
    )
    return lead


# What the workflow shows: its memo's display name (the name, or the phone of an unnamed lead) and AssignedAgent.
WORKFLOW_FIELDS = frozenset({"name", "phone", "owner_id"})


def _refresh_workflow_after_commit(
    *, session: AsyncSession, workflows: LeadWorkflowClient, tenant: Tenant, lead: Lead
) -> None:
    """Tell the lead's workflow its display name or owner (memo, AssignedAgent) after the PATCH committed.

    Sent whenever a PATCH names those fields, changed or not, so re-sending a PATCH that answered 503 repairs it.
    """

    async def refresh() -> None:
        await workflows.refresh_details(tenant=tenant, lead=lead)

    after_commit(
        session,
        refresh,
        failure="the change was saved but the lead's workflow could not be told; send the same request again",
        details={"lead_id": str(lead.id)},
    )


async def delete_lead(
    *, session: AsyncSession, workflows: LeadWorkflowClient, tenant: Tenant, lead_id: uuid.UUID, actor: str
) -> None:
    """Terminate the lead's workflow and its open enrollments' workflows, then delete the row (committed by the
    request; the enrollment rows go with it).

    The workflows go first: were the row deleted first and Temporal then unreachable, a workflow would keep working
    a lead nobody can see. A lead whose workflows could not all be stopped is still visible and its DELETE can be
    retried (stopping an already closed workflow is not an error).
    """
    lead = await get_lead(session=session, tenant_id=tenant.id, lead_id=lead_id)
    enrollments = await EnrollmentRepository(session).open_workflow_ids_for_lead(tenant_id=tenant.id, lead_id=lead.id)
    workflow_ids = [lead_workflow_id(tenant.slug, str(lead.id)), *enrollments]
    for workflow_id in workflow_ids:
        await workflows.terminate(workflow_id=workflow_id, lead_id=lead.id, reason=f"lead deleted by {actor}")
    await LeadRepository(session).delete(tenant_id=tenant.id, lead_id=lead.id)


async def _resolve_status(
    *, session: AsyncSession, tenant: Tenant, lead_id: uuid.UUID, data: LeadStatusChange
) -> tuple[Lead, StatusDefinition]:
    """The lead and the tenant's status definition a status change asks for: 404 / 422 before any workflow call."""
    lead = await get_lead(session=session, tenant_id=tenant.id, lead_id=lead_id)
    status = await StatusRepository(session).get_by_key(tenant_id=tenant.id, key=data.status)
    if status is None:
        raise Unprocessable(
            f"status: '{data.status}' is not one of this tenant's statuses",
            details=[{"field": "status", "reason": "unknown status key"}],
        )
    return lead, status


async def change_status(
    *,
    session: AsyncSession,
    workflows: LeadWorkflowClient,
    tenant: Tenant,
    lead_id: uuid.UUID,
    data: LeadStatusChange,
    actor: str,
) -> LeadPublic:
    """Ask the lead's workflow to move to the status asked for; 409 with its reason when it refuses.

    The workflow mirrors the change to the row and the timeline itself; the answer is the row re-read afterwards.
    """
    lead, status = await _resolve_status(session=session, tenant=tenant, lead_id=lead_id, data=data)
    # A fresh run (the lead was won or lost, its workflow ended) must still know the lead's running enrollments.
    enrollments = await EnrollmentRepository(session).open_workflow_ids_for_lead(tenant_id=tenant.id, lead_id=lead.id)
    await end_reads(session)
    view = await workflows.change_status(
        tenant=tenant, lead=lead, status=status, reason=data.reason, actor=actor, active_enrollments=enrollments
    )
    fresh = found(await LeadRepository(session).get_fresh(tenant_id=tenant.id, lead_id=lead.id), "lead", lead.id)
    # The workflow's answer is authoritative even if its mirror to the row has not landed yet.
    return LeadPublic.model_validate(fresh).model_copy(update={"status": view.status_key, "stage": view.stage})


async def timeline(
    *, session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID, limit: int
) -> list[TimelineEventPublic]:
    """The lead's timeline, newest first, each event with its actor's display name (so a role that may not list the
    tenant's users still sees who did what)."""
    await get_lead(session=session, tenant_id=tenant_id, lead_id=lead_id)
    events = await TimelineRepository(session).list_for_lead_named(tenant_id=tenant_id, lead_id=lead_id, limit=limit)
    return [from_row(TimelineEventPublic, event, actor_name=name) for event, name in events]
