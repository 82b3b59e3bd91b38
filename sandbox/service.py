"""What the sandbox does, behind its HTTP routes: accept sends, answer faults, deliver inbound and status webhooks."""

import asyncio
import secrets
import uuid
from collections.abc import Coroutine
from typing import Any, Literal

import httpx

from sandbox import payloads
from sandbox.config import SandboxConfig
from sandbox.delivery import SignatureMode, WebhookSender
from sandbox.state import (
    CloudAccount,
    EvolutionInstance,
    Fault,
    Provider,
    RecordedMessage,
    SandboxState,
    TemplateSent,
    WebhookDelivery,
    e164,
    now,
)

StatusName = Literal["sent", "delivered", "read", "failed"]
InboundKind = Literal["text", "button", "interactive", "reaction", "unsupported"]


class NoWebhookUrl(LookupError):
    pass


def evolution_instance_id(instance: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"leadflow-sandbox:{instance}"))


class Sandbox:
    def __init__(self, config: SandboxConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.state = SandboxState(config)
        self.http = http
        self.sender = WebhookSender(self.state, http)
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        self.cancel_background()
        self.state.reset()

    def cancel_background(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- sends --------------------------------------------------------------------------------------------------

    def record_cloud_send(
        self, account: CloudAccount, body: dict[str, Any], idempotency_key: str | None
    ) -> RecordedMessage:
        to = str(body["to"])
        template = body.get("template")
        message = RecordedMessage(
            id=payloads.new_wamid(to),
            provider="cloud",
            account=account.phone_number_id,
            to=e164(to),
            type="template" if template else "text",
            text=body["text"]["body"] if not template else None,
            template=_template_sent(template) if template else None,
            idempotency_key=idempotency_key,
            callback_data=body.get("biz_opaque_callback_data") or None,
            request_body=body,
            accepted_at=now(),
        )
        self.state.messages.append(message)
        return message

    def record_evolution_send(
        self, instance: EvolutionInstance, body: dict[str, Any], idempotency_key: str | None
    ) -> RecordedMessage:
        message = RecordedMessage(
            id=payloads.new_evolution_id(outbound=True),
            provider="evolution",
            account=instance.instance,
            to=e164(str(body["number"])),
            type="text",
            text=str(body["text"]),
            idempotency_key=idempotency_key,
            request_body=body,
            accepted_at=now(),
        )
        self.state.messages.append(message)
        return message

    def follow_up_statuses(self, message: RecordedMessage, fault: Fault | None = None) -> None:
        """sent -> delivered -> read (or sent -> failed for a deferred error fault), when a webhook URL is known."""
        if not self.state.options.auto_status and fault is None:
            return
        if self._webhook_url(message.provider, message.account) is None:
            return
        failing = fault is not None and fault.kind.startswith("error_")
        code = int(fault.kind.split("_", 1)[1]) if fault and failing else None
        chain: list[tuple[StatusName, int | None]] = (
            [("sent", None), ("failed", code or 131026)]
            if failing
            else [("sent", None), ("delivered", None), ("read", None)]
        )
        self._spawn(self._status_chain(message, chain))

    async def _status_chain(self, message: RecordedMessage, chain: list[tuple[StatusName, int | None]]) -> None:
        for status, code in chain:
            await asyncio.sleep(self.state.options.status_interval_seconds)
            try:
                await self.deliver_status(message, status, error_code=code)
            except NoWebhookUrl:
                return

    # --- webhooks -----------------------------------------------------------------------------------------------

    def _webhook_url(self, provider: Provider, account: str, override: str | None = None) -> str | None:
        if override:
            return override
        if provider == "cloud":
            return self.state.cloud_account(account).webhook_url
        return self.state.evolution_instance(account).webhook_url

    def _require_url(self, provider: Provider, account: str, override: str | None) -> str:
        url = self._webhook_url(provider, account, override)
        if url is None:
            raise NoWebhookUrl(
                f"no webhook URL for {provider} account {account!r}: pass webhook_url, register the account "
                "or POST /_sandbox/config"
            )
        return url

    async def _deliver(
        self,
        to: CloudAccount | EvolutionInstance,
        event: str,
        url: str,
        body: dict[str, Any],
        *,
        phone: str | None,
        message_id: str | None,
        signature: SignatureMode,
    ) -> WebhookDelivery:
        """A webhook as its provider sends it: Meta's signed with the account's app secret (or badly, or not at all,
        as `signature` says); Evolution's unsigned, a valid one with the instance's custom headers, a forged one
        without."""
        if isinstance(to, CloudAccount):
            provider: Provider = "cloud"
            credentials: dict[str, Any] = {"app_secret": to.app_secret}
        else:
            provider, credentials = "evolution", {"headers": to.headers if signature == "valid" else {}}
        return await self.sender.send(
            provider=provider,
            event=event,
            url=url,
            payload=body,
            phone=phone,
            message_id=message_id,
            signature=signature,
            **credentials,
        )

    async def deliver_status(
        self,
        message: RecordedMessage,
        status: StatusName,
        *,
        error_code: int | None = None,
        webhook_url: str | None = None,
        signature: SignatureMode = "valid",
    ) -> WebhookDelivery:
        url = self._require_url(message.provider, message.account, webhook_url)
        if message.provider == "cloud":
            account = self.state.cloud_account(message.account)
            body = payloads.meta_status(
                account,
                message_id=message.id,
                status=status,
                recipient=message.to,
                error_code=error_code,
                at=now(),
                callback_data=message.callback_data,
            )
            delivery = await self._deliver(
                account, f"status:{status}", url, body, phone=message.to, message_id=message.id, signature=signature
            )
        else:
            instance = self.state.evolution_instance(message.account)
            body = payloads.evolution_status(
                instance,
                message_id=message.id,
                status=status,
                recipient=message.to,
                instance_id=evolution_instance_id(instance.instance),
                url=url,
                server_url=self.config.base_url,
                apikey=_evolution_key(instance, signature),
            )
            delivery = await self._deliver(
                instance, f"status:{status}", url, body, phone=message.to, message_id=message.id, signature=signature
            )
        if not delivery.dropped:
            message.statuses.append(status)
        return delivery

    async def deliver_inbound(
        self,
        *,
        provider: Provider,
        sender: str,
        text: str | None,
        kind: InboundKind,
        payload: str | None,
        context_message_id: str | None,
        name: str | None,
        message_id: str | None,
        account_id: str | None,
        webhook_url: str | None,
        signature: SignatureMode,
        lid: bool,
    ) -> WebhookDelivery:
        at = now()
        if provider == "cloud":
            account = self.state.cloud_account(account_id or self.config.phone_number_id)
            url = self._require_url("cloud", account.phone_number_id, webhook_url)
            message_id = message_id or payloads.new_wamid(sender)
            body = payloads.meta_inbound(
                account,
                sender=sender,
                message_id=message_id,
                name=name,
                kind=kind,
                text=text,
                payload=payload,
                context_message_id=context_message_id,
                at=at,
            )
            return await self._deliver(
                account, "inbound_message", url, body, phone=e164(sender), message_id=message_id, signature=signature
            )
        instance = self.state.evolution_instance(account_id or "sandbox")
        url = self._require_url("evolution", instance.instance, webhook_url)
        message_id = message_id or payloads.new_evolution_id(outbound=False)
        body = payloads.evolution_inbound(
            instance,
            sender=sender,
            message_id=message_id,
            name=name,
            text=text,
            lid=lid,
            at=at,
            instance_id=evolution_instance_id(instance.instance),
            url=url,
            server_url=self.config.base_url,
            apikey=_evolution_key(instance, signature),
        )
        return await self._deliver(
            instance, "inbound_message", url, body, phone=e164(sender), message_id=message_id, signature=signature
        )

    async def handshake(self, webhook_url: str, verify_token: str) -> dict[str, Any]:
        challenge = str(secrets.randbelow(10**10))
        params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
        response = await self.http.get(webhook_url, params=params)
        return {
            "status_code": response.status_code,
            "body": response.text,
            "challenge": challenge,
            "verified": response.status_code == 200 and response.text == challenge,
        }

    async def deliver_connection(
        self, *, instance_name: str, state: str, status_reason: int, webhook_url: str | None, signature: SignatureMode
    ) -> WebhookDelivery:
        instance = self.state.evolution_instance(instance_name)
        url = self._require_url("evolution", instance.instance, webhook_url)
        body = payloads.evolution_connection(
            instance,
            state=state,
            status_reason=status_reason,
            url=url,
            server_url=self.config.base_url,
            apikey=_evolution_key(instance, signature),
        )
        return await self._deliver(
            instance, "connection_update", url, body, phone=None, message_id=None, signature=signature
        )


def _evolution_key(instance: EvolutionInstance, signature: SignatureMode) -> str | None:
    if signature == "missing":
        return None
    return instance.api_key if signature == "valid" else instance.api_key + "-wrong"


def _template_sent(template: dict[str, Any]) -> TemplateSent:
    parameters = [
        str(p.get("text"))
        for component in template.get("components") or []
        if component.get("type") == "body"
        for p in component.get("parameters") or []
    ]
    return TemplateSent(name=template["name"], language=template["language"]["code"], parameters=parameters)
