"""The WhatsApp send activity: `send_whatsapp_message(SendWhatsAppInput) -> SendWhatsAppResult`.

Thin: channels/whatsapp/outbox.py does the work (outbox, 24-hour window, opt-out, pacing, provider errors); this
maps its outcomes onto Temporal's retry semantics. Throttling and unreachable providers are retryable, with the
provider's or the pacer's delay as `next_retry_delay`; so is a re-run that finds an unconfirmed earlier attempt
(`WhatsAppSendInFlight`, retried every few seconds until a status webhook reconciles it or the window passes);
a message the provider accepted while PostgreSQL is unreachable is stored as soon as it is back, the attempt
heartbeating meanwhile;
every refusal is a non-retryable `ApplicationError` whose
`type` (domain/whatsapp_messages.py) tells the workflow what happened, and which is already on the lead's timeline.
"""

import uuid
from datetime import timedelta
from typing import Unpack

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.provider_clients import ProviderActivities, ProviderClients
from channels.whatsapp.accepted import AcceptedSends
from channels.whatsapp.channel import WhatsAppChannel
from channels.whatsapp.outbox import SendDeferred, SendHeld, SendInFlight, SendRefused, WhatsAppSender, WithAnswer
from channels.whatsapp.pacing import SendPacer
from core.activity_metrics import record_send
from core.live_events import LiveEvent, LiveEvents, LiveEventType
from core.redis import Keys
from domain.whatsapp_messages import (
    ENROLLMENT_PAUSED,
    SEND_IN_FLIGHT,
    SEND_WHATSAPP_MESSAGE,
    THROTTLED,
    SendWhatsAppInput,
    SendWhatsAppResult,
)


def _heartbeat() -> None:
    """The activity's heartbeat; nothing when the send runs outside an activity (the scheduled-send drain)."""
    if activity.in_activity():
        activity.heartbeat()


class WhatsAppActivities(ProviderActivities):
    def __init__(self, **clients: Unpack[ProviderClients]) -> None:
        super().__init__(**clients)
        settings, redis = self._settings, self._redis
        keys = Keys(settings.redis_prefix)
        pacer = SendPacer(
            redis,
            keys,
            per_second=settings.whatsapp_sender_messages_per_second,
            recipient_interval_seconds=settings.whatsapp_recipient_min_interval_seconds,
        )
        self.sender = WhatsAppSender(
            session_factory=self._sessions,
            http=self._http,
            pacer=pacer,
            accepted=AcceptedSends(redis, keys),
            settings=settings,
            heartbeat=_heartbeat,
        )
        self.channel = WhatsAppChannel(self.sender)
        self.live = LiveEvents(redis, keys)

    @activity.defn(name=SEND_WHATSAPP_MESSAGE)
    async def send_whatsapp_message(self, data: SendWhatsAppInput) -> SendWhatsAppResult:
        return await self.send(data)

    async def send(self, data: SendWhatsAppInput, *, with_answer: WithAnswer | None = None) -> SendWhatsAppResult:
        """The activity's work; `with_answer` writes in the transaction that stores the provider's answer (a sequence
        send's step rows, channels/whatsapp/outbox.py `WithAnswer`)."""
        try:
            result = await self.channel.send(data, with_answer=with_answer)
        except SendDeferred as deferred:
            record_send(channel="whatsapp", outcome="in_flight" if isinstance(deferred, SendInFlight) else "throttled")
            delay = deferred.retry_after_seconds
            raise ApplicationError(
                deferred.message,
                type=SEND_IN_FLIGHT if isinstance(deferred, SendInFlight) else THROTTLED,
                next_retry_delay=timedelta(seconds=delay) if delay else None,
            ) from None
        except SendHeld as held:
            record_send(channel="whatsapp", outcome=ENROLLMENT_PAUSED)
            raise ApplicationError(held.message, type=ENROLLMENT_PAUSED, non_retryable=True) from None
        except SendRefused as refused:
            record_send(channel="whatsapp", outcome=refused.kind)
            await self._conversation_changed(data)  # a refused message shows in the conversation, marked failed
            raise ApplicationError(refused.message, refused.details, type=refused.kind, non_retryable=True) from None
        record_send(channel="whatsapp", outcome="duplicate" if result.duplicate else "sent")
        if not result.duplicate:
            await self._conversation_changed(data)
        return result

    async def _conversation_changed(self, data: SendWhatsAppInput) -> None:
        """Tell open inboxes (after the sender committed) that the conversation has a new message."""
        event = LiveEvent(
            tenant_id=uuid.UUID(data.tenant_id),
            type=LiveEventType.CONVERSATION_CHANGED,
            data={"lead_id": data.lead_id},
        )
        await self.live.publish(event)
