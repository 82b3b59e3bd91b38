"""The channel interface: what WhatsApp implements now and a voice or SMS channel implements next.

A channel is a way to reach a lead. Its provider packages (`providers/<name>/`) speak the wire formats; the channel
(`channels/<name>/`) turns them into the CRM's terms:
- `Channel.send(request)`: one outbound request (a WhatsApp message; a call to place), effectively once, run by an
  activity in the worker (Temporal owns its retries).
- `Channel.parse_inbound(provider, payload)`: a verified provider callback read into `ChannelEvent`s: events that
  say which account received them and which person they are about, tagged by kind, whatever the wire format.
- `InboundHandler`: the dispatcher's side: one stored webhook inbox event of the providers it names, stored in the
  CRM and told to the lead's workflow (channels/lead_signals.py); `RunInboundHandler` also takes one person's
  consecutive events at once (one transaction, one signal).
The webhook route verifies, stores the parsed events in the inbox and answers; nothing else runs before the answer.
"""

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from models import WebhookInbox

RequestT = TypeVar("RequestT", contravariant=True)
ResultT = TypeVar("ResultT", covariant=True)


class ChannelEvent(Protocol):
    """One event of a provider callback, in channel terms."""

    @property
    def event(self) -> str:
        """The event's tag (`inbound_message`, `status`, ...): how a stored event is read back."""
        ...

    @property
    def account_id(self) -> str:
        """Which of the tenants' provider accounts (number, instance) received it."""
        ...

    @property
    def person(self) -> str:
        """The E.164 number of the person it is about; empty for an account-level event."""
        ...


class Channel(Protocol[RequestT, ResultT]):
    name: str  # the conversation's channel: "whatsapp"
    inbox_providers: tuple[str, ...]  # the providers whose callbacks it reads (webhook_inbox.provider)

    async def send(self, request: RequestT) -> ResultT:
        """Send one request; a re-run of the same request never sends twice."""
        ...

    def parse_inbound(self, provider: str, payload: Any) -> Sequence[ChannelEvent]:
        """The events of one verified callback of `provider`; a payload of the wrong shape raises ValueError."""
        ...


class InboundHandler(Protocol):
    inbox_providers: tuple[str, ...]

    async def handle(self, row: WebhookInbox) -> None:
        """Handle one stored event; idempotent (the dispatcher delivers at least once)."""
        ...


@runtime_checkable
class RunInboundHandler(InboundHandler, Protocol):
    async def handle_run(self, rows: Sequence[WebhookInbox]) -> None:
        """Handle one person's consecutive events, in order, all or none (the dispatcher then tries each alone)."""
        ...
