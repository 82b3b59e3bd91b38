"""Live events for the web app: what changed, per tenant, through a Redis stream the API streams to browsers (SSE).

A process that changed something the agents look at (the dispatcher storing an inbound message or a delivery
status, the send activity storing a sent message, an API write) publishes a small event *after its transaction
committed*: a browser that refetches on it must find the change. Events name what changed, never carry the data:
the app refetches through the API, which applies the caller's permissions.

Redis streams rather than plain PUBLISH: an entry has an id the browser sends back as `Last-Event-ID` when it
reconnects, and the entries it missed meanwhile are still there to replay (the stream keeps the latest
`STREAM_LENGTH` per tenant; a browser further behind is told to refetch everything). Publishing never fails the
change it reports: without Redis the event is dropped with a warning and the next refetch shows the change.
"""

import json
import logging
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.config import Settings
from core.redis import Keys, create_redis

log = logging.getLogger(__name__)

STREAM_LENGTH = 1000


class LiveEventType(StrEnum):
    # A message came in, went out or changed status; or the conversation was read (unread counts move).
    CONVERSATION_CHANGED = "conversation.changed"
    LEAD_CHANGED = "lead.changed"
    TASK_CHANGED = "task.changed"
    ENROLLMENT_CHANGED = "enrollment.changed"
    NOTIFICATION_CREATED = "notification.created"


@dataclass(frozen=True, slots=True)
class LiveEvent:
    tenant_id: uuid.UUID
    type: LiveEventType
    data: dict[str, Any] = field(default_factory=dict)
    # Set when only one person should see it (a notification); None: everyone of the tenant.
    user_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class StreamedEvent:
    id: str
    type: str
    data: dict[str, Any]


class LiveEvents:
    """Publishes and reads the per-tenant live event streams."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    @classmethod
    def for_settings(cls, settings: Settings) -> "LiveEvents":
        """With a Redis client of its own (a process that has none yet); close it with `aclose`."""
        return cls(create_redis(settings), Keys(settings.redis_prefix))

    async def aclose(self) -> None:
        await self.redis.aclose()

    def stream(self, tenant_id: uuid.UUID) -> str:
        return self.keys("live", tenant_id)

    async def publish(self, *events: LiveEvent) -> None:
        """Append the events to their tenants' streams; never raises."""
        if not events:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for event in events:
                    fields = {"type": event.type.value, "data": json.dumps(event.data, default=str)}
                    if event.user_id is not None:
                        fields["user_id"] = str(event.user_id)
                    pipe.xadd(self.stream(event.tenant_id), fields, maxlen=STREAM_LENGTH, approximate=True)  # type: ignore[arg-type]
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("live events not published (%s): %s", type(exc).__name__, exc)

    async def latest_id(self, tenant_id: uuid.UUID) -> str:
        """The id of the tenant's newest event ("0-0" when there is none): where a new subscriber starts."""
        newest: Any = await self.redis.xrevrange(self.stream(tenant_id), count=1)
        return str(newest[0][0]) if newest else "0-0"

    async def missed_too_many(self, tenant_id: uuid.UUID, after: str) -> bool:
        """Whether entries after `after` were already trimmed away (the subscriber must refetch everything)."""
        oldest: Any = await self.redis.xrange(self.stream(tenant_id), count=1)
        return bool(oldest) and _stream_id(str(oldest[0][0])) > _next_id(after)

    async def read(
        self, tenant_id: uuid.UUID, *, after: str, user_id: uuid.UUID | None, block_ms: int
    ) -> list[StreamedEvent]:
        """The events after `after` meant for `user_id` (or for everyone), waiting up to `block_ms` for one."""
        answer: Any = await self.redis.xread({self.stream(tenant_id): after}, count=100, block=block_ms)
        events: list[StreamedEvent] = []
        for _stream, entries in answer or []:
            for entry_id, fields in entries:
                target = fields.get("user_id")
                if target is not None and target != str(user_id):
                    events.append(StreamedEvent(id=str(entry_id), type="", data={}))  # advances the position only
                    continue
                events.append(StreamedEvent(id=str(entry_id), type=fields["type"], data=json.loads(fields["data"])))
        return events


def _stream_id(value: str) -> tuple[int, int]:
    millis, _, sequence = value.partition("-")
    return int(millis), int(sequence or 0)


def _next_id(value: str) -> tuple[int, int]:
    millis, sequence = _stream_id(value)
    return millis, sequence + 1


def valid_event_id(value: str) -> bool:
    try:
        _stream_id(value)
    except ValueError:
        return False
    return True
