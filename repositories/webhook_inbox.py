"""SQL for the webhook inbox: one-statement enqueue, batch claims that keep each person's order, retries, parking."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import DateTime, Table, bindparam, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from models import WebhookInbox
from repositories.base import Repository

OPEN_STATES = ("pending", "processing")

# Oldest first, at most one event per order_key (the earliest open one), and only rows no other dispatcher holds:
# an event whose earlier sibling is still open waits, so one person's events are handled in the provider's order.
_CLAIM = text(
    """
    UPDATE webhook_inbox SET state = 'processing', lease_until = now() + make_interval(secs => :lease_seconds)
    WHERE id IN (
        SELECT i.id FROM webhook_inbox i
        WHERE i.state IN ('pending', 'processing') AND i.provider = ANY(:providers)
          AND ((i.state = 'pending' AND i.available_at <= now())
               OR (i.state = 'processing' AND i.lease_until < now()))
          AND NOT EXISTS (
              SELECT 1 FROM webhook_inbox j
              WHERE j.order_key = i.order_key AND j.state IN ('pending', 'processing') AND j.id < i.id)
        ORDER BY i.id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED)
    RETURNING webhook_inbox.*
    """
)

# A claimed event's person's next open events, in order (at most `:per_person` each): the claim's runs. None of them
# can be claimed elsewhere meanwhile, as each has an open earlier sibling (the claimed one).
_FOLLOWERS = text(
    """
    SELECT id, order_key, state, available_at <= now() AS available, lease_until < now() AS lease_over
    FROM (
        SELECT j.*, row_number() OVER (PARTITION BY j.order_key ORDER BY j.id) AS place
        FROM webhook_inbox j
        JOIN (SELECT unnest(CAST(:head_ids AS bigint[])) AS id, unnest(CAST(:order_keys AS text[])) AS order_key) h
          ON j.order_key = h.order_key AND j.id > h.id
        WHERE j.state IN ('pending', 'processing') AND j.provider = ANY(:providers)
    ) followers
    WHERE place <= :per_person
    ORDER BY order_key, id
    """
)

_TAKE = text(
    """
    UPDATE webhook_inbox SET state = 'processing', lease_until = now() + make_interval(secs => :lease_seconds)
    WHERE id = ANY(:ids)
    RETURNING webhook_inbox.*
    """
)


@dataclass(frozen=True, slots=True)
class InboxStats:
    counts: dict[str, int]
    oldest_pending_at: datetime | None


# Every sequence send asks this before it goes out (channels/whatsapp/outbox.py): built once on the Core table.
_INBOX = cast(Table, WebhookInbox.__table__)
# A message from `phone` that arrived after `since` is stored but not handled yet (used in other statements too).
INBOUND_WAITING = (
    select(_INBOX.c.id)
    .where(
        _INBOX.c.event["from_phone"].astext == bindparam("phone"),
        _INBOX.c.kind == "inbound_message",
        _INBOX.c.state.in_(OPEN_STATES),
        _INBOX.c.received_at > bindparam("since", type_=DateTime(timezone=True)),
        (_INBOX.c.tenant_id == bindparam("tenant")) | _INBOX.c.tenant_id.is_(None),
    )
    .exists()
)
_INBOUND_WAITING = select(INBOUND_WAITING)


class WebhookInboxRepository(Repository[WebhookInbox]):
    model = WebhookInbox

    async def enqueue(self, rows: list[dict[str, Any]]) -> int:
        """Insert the events in one statement; events already stored (a redelivery) are skipped. Returns how many
        are new."""
        if not rows:
            return 0
        table = cast(Table, WebhookInbox.__table__)  # Core, not the ORM's bulk path: this runs on every webhook
        result = await self.session.execute(
            insert(table)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[table.c.provider, table.c.account_id, table.c.event_key])
            .returning(table.c.id)
        )
        return len(result.scalars().all())

    async def inbound_waiting_from(self, *, phone: str, tenant_id: uuid.UUID, since: datetime) -> bool:
        """Whether a message from `phone` (E.164) that arrived after `since` is stored but not handled yet.

        Evolution events learn their tenant only in the dispatcher, so a row without one counts too: the caller
        waits for it to be handled rather than concluding anything from it."""
        result = await self.session.execute(_INBOUND_WAITING, {"phone": phone, "since": since, "tenant": tenant_id})
        return bool(result.scalar())

    async def claim(self, *, providers: list[str], limit: int, lease: timedelta) -> list[WebhookInbox]:
        """Take up to `limit` events of `providers` until `lease` passes (commit to make the claim visible)."""
        params = {"providers": providers, "limit": limit, "lease_seconds": lease.total_seconds()}
        claimed = await self.session.scalars(select(WebhookInbox).from_statement(_CLAIM), params)
        return sorted(claimed.all(), key=lambda row: row.id)

    async def claim_runs(
        self, *, providers: list[str], limit: int, per_person: int, lease: timedelta
    ) -> list[list[WebhookInbox]]:
        """Up to `limit` persons' earliest claimable events, each with up to `per_person - 1` of the person's next
        ones (those already due, up to the first that is not): runs of one person's events in the provider's order,
        to be handled together. Commit to make the claim visible."""
        heads = await self.claim(providers=providers, limit=limit, lease=lease)
        if per_person <= 1 or not heads:
            return [[head] for head in heads]
        followers = await self.session.execute(
            _FOLLOWERS,
            {
                "head_ids": [head.id for head in heads],
                "order_keys": [head.order_key for head in heads],
                "providers": providers,
                "per_person": per_person - 1,
            },
        )
        taken: dict[str, list[int]] = {}
        stopped: set[str] = set()
        for row in followers:
            if row.order_key in stopped:
                continue
            claimable = (row.state == "pending" and row.available) or (row.state == "processing" and row.lease_over)
            if claimable:
                taken.setdefault(row.order_key, []).append(row.id)
            else:
                stopped.add(row.order_key)  # waiting out a retry delay, or in another dispatcher's hands: in order
        ids = [i for run in taken.values() for i in run]
        rest: dict[int, WebhookInbox] = {}
        if ids:
            result = await self.session.scalars(
                select(WebhookInbox).from_statement(_TAKE),
                {"ids": ids, "lease_seconds": lease.total_seconds()},
            )
            rest = {row.id: row for row in result.all()}
        return [[head, *(rest[i] for i in taken.get(head.order_key, ()) if i in rest)] for head in heads]

    async def release(self, *, inbox_ids: list[int], error: str | None = None, delay: timedelta | None = None) -> None:
        """Put claimed events back in line without counting an attempt: after `delay` (an outage), or at once (an
        earlier event of their person failed and now holds them back)."""
        if not inbox_ids:
            return
        values: dict[str, Any] = {"state": "pending", "lease_until": None}
        if delay is not None:
            values["available_at"] = func.now() + delay
        if error is not None:
            values["last_error"] = error[:2000]
        await self.session.execute(
            update(WebhookInbox)
            .where(WebhookInbox.id.in_(inbox_ids), WebhookInbox.state == "processing")
            .values(**values)
        )

    async def mark_done(self, *, inbox_ids: list[int]) -> None:
        await self.session.execute(
            update(WebhookInbox)
            .where(WebhookInbox.id.in_(inbox_ids), WebhookInbox.state == "processing")
            .values(state="done", handled_at=func.now(), lease_until=None)
        )

    async def retry_later(self, *, inbox_id: int, error: str, delay: timedelta, park_after: int | None) -> str:
        """Back to `pending` after `delay`; with `park_after`, the attempt counts, and the last allowed one parks it.
        Returns the new state."""
        row = await self.session.get(WebhookInbox, inbox_id, with_for_update=True, populate_existing=True)
        if row is None:
            return "gone"
        if park_after is not None:
            row.attempts += 1
        row.last_error = error[:2000]
        row.lease_until = None
        if park_after is not None and row.attempts >= park_after:
            row.state = "parked"
            row.handled_at = func.now()
        else:
            row.state = "pending"
            row.available_at = func.now() + delay
        await self.session.flush()
        return row.state

    async def stats(self) -> InboxStats:
        counts = dict(
            (await self.session.execute(select(WebhookInbox.state, func.count()).group_by(WebhookInbox.state))).all()
        )
        oldest = await self.session.scalar(
            select(func.min(WebhookInbox.received_at)).where(WebhookInbox.state.in_(OPEN_STATES))
        )
        return InboxStats(counts={state: int(n) for state, n in counts.items()}, oldest_pending_at=oldest)

    async def open_backlog(self) -> tuple[int, datetime | None]:
        """How many events are open (pending or processing) and when the oldest of them was stored."""
        count, oldest = (
            await self.session.execute(
                select(func.count(), func.min(WebhookInbox.received_at)).where(WebhookInbox.state.in_(OPEN_STATES))
            )
        ).one()
        return int(count), oldest

    async def list_parked(self, *, limit: int) -> list[WebhookInbox]:
        result = await self.session.execute(
            select(WebhookInbox).where(WebhookInbox.state == "parked").order_by(WebhookInbox.id).limit(limit)
        )
        return list(result.scalars().all())

    async def requeue_parked(self, *, inbox_id: int) -> bool:
        """Put a parked event back in line with a fresh attempt count; False when it is not parked."""
        return await self._touched(
            update(WebhookInbox)
            .where(WebhookInbox.id == inbox_id, WebhookInbox.state == "parked")
            .values(state="pending", attempts=0, available_at=func.now(), handled_at=None)
        )

    async def prune_handled(self, *, older_than: timedelta) -> int:
        """Drop events handled longer ago than `older_than` (webhook_event keeps each event's raw record)."""
        result = await self.session.execute(
            delete(WebhookInbox)
            .where(WebhookInbox.state == "done", WebhookInbox.handled_at < func.now() - older_than)
            .returning(WebhookInbox.id)
        )
        return len(result.scalars().all())

    async def open_count(self, *, tenant_id: uuid.UUID | None = None) -> int:
        query = select(func.count()).select_from(WebhookInbox).where(WebhookInbox.state.in_(OPEN_STATES))
        if tenant_id is not None:
            query = query.where(WebhookInbox.tenant_id == tenant_id)
        return int(await self.session.scalar(query) or 0)
