"""Lead use cases behind the REST API: validate, read and write through repositories, talk to the LeadWorkflow.

Services never commit: the route commits (the request session) before anything here starts, signals or updates a
workflow, so a workflow never sees a lead row that is not there yet. Every lookup is scoped by tenant, so another
tenant's lead is a 404 like a missing one.
"""

import base64
import binascii
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.idempotency import IdempotencyKeyReused, fingerprint
from api.lead_workflows import CREATE_RETRY_WINDOW, change_lead_status, refresh_lead_details, start_lead_workflow
from api.schemas.leads import LeadCreate, LeadPublic, LeadStatusChange, LeadUpdate
from core.config import Settings
from core.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from core.phone import InvalidPhone, normalize_phone, timezone_for_phone
from domain.stages import TERMINAL_STAGES, Stage
from models import Lead, StatusDefinition, Tenant, TimelineEvent
from repositories.enrollments import EnrollmentRepository
from repositories.leads import LeadRepository
from repositories.statuses import StatusRepository
from repositories.tenants import TenantRepository
from repositories.timeline import TimelineRepository
from repositories.users import UserRepository
from workflows.ids import lead_workflow_id

log = logging.getLogger(__name__)

LIST_LIMIT_MAX = 200


class DuplicatePhone(Conflict):
    """409 naming the lead that already has this phone."""

    def __init__(self, existing: Lead) -> None:
        super().__init__(
            f"a lead with phone {existing.phone} already exists in this tenant (lead {existing.id})",
            details={"field": "phone", "lead_id": str(existing.id), "phone": existing.phone},
        )


def lead_not_found(lead_id: uuid.UUID) -> NotFound:
    return NotFound(f"lead {lead_id} not found", details={"lead_id": str(lead_id)})


async def get_tenant(*, session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    """The caller's tenant (its region, time zone, slug); a principal always points at an existing one."""
    tenant = await TenantRepository(session).get(tenant_id)
    if tenant is None:
        raise NotFound("your tenant no longer exists")
    return tenant


async def get_lead(*, session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> Lead:
    """The lead, or 404 when it does not exist in this tenant."""
    lead = await LeadRepository(session).get(tenant_id=tenant_id, lead_id=lead_id)
    if lead is None:
        raise lead_not_found(lead_id)
    return lead


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
    *, session: AsyncSession, tenant: Tenant, data: LeadCreate, actor: str, idempotency_key: str | None = None
) -> LeadCreation:
    """Validate and insert a lead with its `created` timeline event (not committed).

    A lead already created by this same request (its Idempotency-Key, or without a key its body) is answered instead
    of a new one; another request for a taken phone is DuplicatePhone, and a key sent before with another body is
    IdempotencyKeyReused.
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
    try:
        async with session.begin_nested():
            await leads.add(lead)
    except IntegrityError:
        # Another request inserted the same phone (or key) between our check and our insert, and has committed.
        raced = await _earlier_attempt(
            leads, tenant_id=tenant.id, phone=phone, key=idempotency_key, request_fingerprint=request_fingerprint
        )
        if raced is None:
            raise
        return raced
    await TimelineRepository(session).record_lead_created(lead=lead, actor=actor)
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
            if by_key.create_fingerprint != request_fingerprint:
                raise IdempotencyKeyReused(key, resource="lead", resource_id=str(by_key.id))
            return LeadCreation(lead=by_key, attempt=CreateAttempt.KEY_REPLAY)
    existing = await leads.get_by_phone(tenant_id=tenant_id, phone=phone)
    if existing is None:
        return None
    if key is None and existing.create_fingerprint == request_fingerprint:
        return LeadCreation(lead=existing, attempt=CreateAttempt.SAME_BODY)
    raise DuplicatePhone(existing)


async def start_workflow(
    *, session: AsyncSession, temporal: Client, settings: Settings, tenant: Tenant, lead: Lead
) -> None:
    """Start the lead's workflow (call after the commit) and mark it started (the request's session commits that);
    503 explaining the lead is saved when Temporal fails (the sweeper starts it later unless the retry does)."""
    try:
        await start_lead_workflow(temporal, tenant=tenant, lead=lead, settings=settings)
    except Exception as exc:  # any failure to reach Temporal means the same to the caller: retry later
        log.warning("starting the workflow of lead %s failed: %s", lead.id, exc)
        raise ServiceUnavailable(
            "the lead was saved but its workflow could not be started; send the same request again to start it",
            details={"lead_id": str(lead.id), "phone": lead.phone},
            headers={"Retry-After": "5"},
        ) from exc
    await LeadRepository(session).mark_workflow_started(lead_ids=[lead.id])


async def finish_earlier_attempt(
    *, session: AsyncSession, temporal: Client, settings: Settings, tenant: Tenant, creation: LeadCreation
) -> None:
    """Complete a create that an earlier attempt of the same request began (this request wrote nothing).

    A key replay always gets its lead, its workflow started if the first attempt could not. A same-body request
    without a key is the retry of a create answered 503 only while the lead's workflow has never started; after that
    it is a duplicate (409), as the client cannot otherwise tell its retry from a second submission.
    """
    started = await start_missing_workflow(
        session=session, temporal=temporal, settings=settings, tenant=tenant, lead=creation.lead
    )
    if creation.attempt is CreateAttempt.SAME_BODY and not started:
        raise DuplicatePhone(creation.lead)


async def start_missing_workflow(
    *, session: AsyncSession, temporal: Client, settings: Settings, tenant: Tenant, lead: Lead
) -> bool:
    """Start the lead's workflow if Temporal has never heard of it; True when this call started it.

    A lead whose first start failed (its POST answered 503) is completed by a retried POST this way. A workflow
    that ran and closed (a won lead) is left alone: only a missing one is started. Temporal forgets closed workflows
    after the namespace's retention period, so an older lead in a terminal stage counts as having had its workflow
    (such a retry comes within minutes, retention takes days).
    """
    if lead.stage in TERMINAL_STAGES and lead.created_at < datetime.now(UTC) - CREATE_RETRY_WINDOW:
        return False
    handle = temporal.get_workflow_handle(lead_workflow_id(tenant.slug, str(lead.id)))
    try:
        await handle.describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise ServiceUnavailable(
                "could not check the lead's workflow; try again", details={"lead_id": str(lead.id)}
            ) from exc
    except Exception as exc:  # Temporal unreachable
        raise ServiceUnavailable(
            "could not check the lead's workflow; try again", details={"lead_id": str(lead.id)}
        ) from exc
    else:
        await LeadRepository(session).mark_workflow_started(lead_ids=[lead.id])
        return False
    await start_workflow(session=session, temporal=temporal, settings=settings, tenant=tenant, lead=lead)
    return True


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
    text = (q or "").strip() or None
    phone = digits = None
    if text is not None:
        try:
            phone = normalize_phone(text, tenant.default_region)
        except InvalidPhone:
            phone = None
        if _PHONE_CHARS.match(text):
            # A fragment of a number as people type it ("555 0123"): compare its digits with the stored E.164.
            only_digits = re.sub(r"\D", "", text)
            digits = only_digits if len(only_digits) >= 3 else None
    rows = await LeadRepository(session).search(
        tenant_id=tenant.id,
        limit=limit + 1,
        after=after,
        status_key=status,
        stage=stage.value if stage is not None else None,
        owner_id=owner_id,
        text=text,
        phone=phone,
        phone_digits=digits,
    )
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
    return page, next_cursor


# Changes ------------------------------------------------------------------------------------------------------------


async def update_lead(
    *, session: AsyncSession, tenant: Tenant, lead_id: uuid.UUID, data: LeadUpdate, actor: str
) -> Lead:
    """Apply the fields sent (not committed); records an `updated` timeline event naming what changed."""
    leads = LeadRepository(session)
    lead = await get_lead(session=session, tenant_id=tenant.id, lead_id=lead_id)
    sent = data.model_fields_set
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
            await session.flush()
    except IntegrityError:
        raced = await leads.get_by_phone(tenant_id=tenant.id, phone=changes.get("phone", ""))
        if raced is None:
            raise
        raise DuplicatePhone(raced) from None
    await session.refresh(lead)
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


async def refresh_workflow(*, temporal: Client, tenant: Tenant, lead: Lead) -> None:
    """Tell the lead's workflow its display name or owner (memo, AssignedAgent) after a committed PATCH.

    Sent whenever a PATCH names those fields, changed or not, so re-sending a PATCH that answered 503 repairs it.
    """
    try:
        await refresh_lead_details(temporal, tenant=tenant, lead=lead)
    except ServiceUnavailable as exc:
        raise ServiceUnavailable(
            "the change was saved but the lead's workflow could not be told; send the same request again",
            details={"lead_id": str(lead.id)},
            headers={"Retry-After": "5"},
        ) from exc


async def delete_lead(
    *, session: AsyncSession, temporal: Client, tenant: Tenant, lead_id: uuid.UUID, actor: str
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
        await _terminate(temporal, workflow_id, reason=f"lead deleted by {actor}", lead_id=lead.id)
    await LeadRepository(session).delete(tenant_id=tenant.id, lead_id=lead.id)


async def _terminate(temporal: Client, workflow_id: str, *, reason: str, lead_id: uuid.UUID) -> None:
    try:
        await temporal.get_workflow_handle(workflow_id).terminate(reason=reason)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: never started, or already closed
            raise ServiceUnavailable(
                "the lead's workflows could not be stopped, so nothing was deleted; try again",
                details={"lead_id": str(lead_id), "workflow_id": workflow_id},
            ) from exc
    except Exception as exc:  # Temporal unreachable
        raise ServiceUnavailable(
            "the lead's workflows could not be stopped, so nothing was deleted; try again",
            details={"lead_id": str(lead_id), "workflow_id": workflow_id},
        ) from exc


async def resolve_status(
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
    temporal: Client,
    settings: Settings,
    tenant: Tenant,
    lead: Lead,
    status: StatusDefinition,
    reason: str | None,
    actor: str,
) -> LeadPublic:
    """Ask the lead's workflow to move to `status` (call after the commit); 409 with its reason when it refuses.

    The workflow mirrors the change to the row and the timeline itself; the answer is the row re-read afterwards.
    """
    # A fresh run (the lead was won or lost, its workflow ended) must still know the lead's running enrollments.
    enrollments = await EnrollmentRepository(session).open_workflow_ids_for_lead(tenant_id=tenant.id, lead_id=lead.id)
    view = await change_lead_status(
        temporal,
        tenant=tenant,
        lead=lead,
        status=status,
        reason=reason,
        actor=actor,
        settings=settings,
        active_enrollments=enrollments,
    )
    fresh = await LeadRepository(session).get_fresh(tenant_id=tenant.id, lead_id=lead.id)
    if fresh is None:
        raise lead_not_found(lead.id)
    # The workflow's answer is authoritative even if its mirror to the row has not landed yet.
    return LeadPublic.model_validate(fresh).model_copy(update={"status": view.status_key, "stage": view.stage})


async def timeline(
    *, session: AsyncSession, tenant_id: uuid.UUID, lead_id: uuid.UUID, limit: int
) -> list[TimelineEvent]:
    """The lead's timeline, newest first."""
    await get_lead(session=session, tenant_id=tenant_id, lead_id=lead_id)
    return await TimelineRepository(session).list_for_lead(tenant_id=tenant_id, lead_id=lead_id, limit=limit)
