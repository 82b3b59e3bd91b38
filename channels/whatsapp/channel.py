"""WhatsApp as a `Channel` (channels/channel.py): sends through the outbox, inbound read by each provider's parser."""

from typing import Any

from channels.whatsapp.outbox import WhatsAppSender, WithAnswer
from channels.whatsapp.webhooks import parse_inbound
from domain.whatsapp_messages import SendWhatsAppInput, SendWhatsAppResult
from providers.whatsapp.events import WhatsAppEvent


class WhatsAppChannel:
    name: str = "whatsapp"
    inbox_providers: tuple[str, ...] = ("cloud", "evolution")

    def __init__(self, sender: WhatsAppSender) -> None:
        self.sender = sender

    async def send(self, request: SendWhatsAppInput, *, with_answer: WithAnswer | None = None) -> SendWhatsAppResult:
        return await self.sender.send(request, with_answer=with_answer)

    def parse_inbound(self, provider: str, payload: Any) -> list[WhatsAppEvent]:
        return parse_inbound(provider, payload)
