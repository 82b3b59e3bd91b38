"""Wire bodies the sandbox emits, in the shapes of the provider fixtures (tests/fixtures/providers/: meta/, evolution/).

Graph API: send answers, `{"error": {...}}` error bodies, `whatsapp_business_account` webhooks. Evolution API:
sendText answers, `{status, error, response: {message}}` errors, `messages.upsert` / `messages.update` /
`connection.update` webhooks with the instance `apikey` in the body.
"""

import base64
import secrets
from datetime import datetime
from typing import Any

from sandbox.state import META_ERRORS, CloudAccount, EvolutionInstance, now


def digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def new_wamid(to: str) -> str:
    return "wamid." + base64.b64encode(f"{digits(to)}:{secrets.token_hex(10).upper()}".encode()).decode()


def new_evolution_id(*, outbound: bool) -> str:
    return "3EB0" + secrets.token_hex(9).upper() if outbound else secrets.token_hex(16).upper()


def _fbtrace() -> str:
    return "A" + secrets.token_urlsafe(16)[:22]


# --- Graph API -------------------------------------------------------------------------------------------------


def graph_error(code: int, *, message: str | None = None, details: str | None = None) -> dict[str, Any]:
    title, known_details = META_ERRORS.get(code, (message or "An unknown error occurred", None))
    error: dict[str, Any] = {
        "message": f"(#{code}) {message or title}",
        "type": "OAuthException",
        "code": code,
    }
    if details or known_details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details or known_details}
    error["fbtrace_id"] = _fbtrace()
    return {"error": error}


def graph_auth_error() -> dict[str, Any]:
    return {
        "error": {
            "message": "Invalid OAuth access token - Cannot parse access token",
            "type": "OAuthException",
            "code": 190,
            "fbtrace_id": _fbtrace(),
        }
    }


def graph_send_answer(to: str, message_id: str, *, template: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"id": message_id}
    if template:
        message["message_status"] = "accepted"
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": digits(to)}],
        "messages": [message],
    }


def _meta_envelope(account: CloudAccount, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": account.waba_id,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": account.display_phone_number,
                                "phone_number_id": account.phone_number_id,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def meta_inbound(
    account: CloudAccount,
    *,
    sender: str,
    message_id: str,
    name: str | None,
    kind: str,
    text: str | None,
    payload: str | None,
    context_message_id: str | None,
    at: datetime,
) -> dict[str, Any]:
    message: dict[str, Any] = {}
    if context_message_id and kind in ("button", "interactive"):
        message["context"] = {"from": account.display_phone_number, "id": context_message_id}
    message |= {"from": digits(sender), "id": message_id, "timestamp": str(int(at.timestamp()))}
    if kind == "text":
        message |= {"type": "text", "text": {"body": text or ""}}
    elif kind == "button":
        message |= {"type": "button", "button": {"payload": payload or text or "", "text": text or ""}}
    elif kind == "interactive":
        reply = {"id": payload or "", "title": text or ""}
        message |= {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": reply}}
    elif kind == "reaction":
        reaction: dict[str, Any] = {"message_id": context_message_id or ""}
        if text:
            reaction["emoji"] = text
        message |= {"type": "reaction", "reaction": reaction}
    else:
        message |= {
            "errors": [
                {
                    "code": 131051,
                    "title": "Message type unknown",
                    "message": "Message type unknown",
                    "error_data": {"details": "Message type is currently not supported."},
                }
            ],
            "type": "unsupported",
            "unsupported": {"type": payload or "poll_creation"},
        }
    contact = {"profile": {"name": name or "Sandbox Lead"}, "wa_id": digits(sender)}
    return _meta_envelope(account, {"contacts": [contact], "messages": [message]})


def meta_status(
    account: CloudAccount,
    *,
    message_id: str,
    status: str,
    recipient: str,
    error_code: int | None,
    at: datetime,
    callback_data: str | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(int(at.timestamp())),
        "recipient_id": digits(recipient),
    }
    if callback_data:  # Meta echoes it only when the send carried it
        item["biz_opaque_callback_data"] = callback_data
    if status in ("sent", "delivered"):
        # Graph v24+ form: pricing without `conversation`.
        item["pricing"] = {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "service",
        }
    if status == "failed":
        code = error_code or 131026
        title, details = META_ERRORS.get(code, ("Message failed", "Message failed."))
        item["errors"] = [
            {
                "code": code,
                "title": title,
                "message": title,
                "error_data": {"details": details},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ]
    return _meta_envelope(account, {"statuses": [item]})


# --- Evolution API ---------------------------------------------------------------------------------------------

_HTTP_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    504: "Gateway Timeout",
}


def evolution_error(status: int, message: Any) -> dict[str, Any]:
    return {"status": status, "error": _HTTP_REASONS.get(status, "Error"), "response": {"message": message}}


def evolution_not_on_whatsapp(number: str) -> dict[str, Any]:
    jid = f"{digits(number)}@s.whatsapp.net"
    return evolution_error(400, [{"jid": jid, "exists": False, "number": digits(number)}])


def evolution_send_answer(number: str, text: str, message_id: str, at: datetime, instance_id: str) -> dict[str, Any]:
    return {
        "key": {"remoteJid": f"{digits(number)}@s.whatsapp.net", "fromMe": True, "id": message_id},
        "pushName": "Você",
        "status": "PENDING",
        "message": {"conversation": text},
        "contextInfo": {
            "mentionedJid": [],
            "groupMentions": [],
            "ephemeralSettingTimestamp": {"low": int(at.timestamp()), "high": 0, "unsigned": False},
            "disappearingMode": {"initiator": 0},
        },
        "messageType": "conversation",
        "messageTimestamp": int(at.timestamp()),
        "instanceId": instance_id,
        "source": "web",
    }


def _evolution_envelope(
    instance: EvolutionInstance, event: str, data: dict[str, Any], *, url: str, server_url: str, apikey: str | None
) -> dict[str, Any]:
    return {
        "event": event,
        "instance": instance.instance,
        "data": data,
        "destination": url,
        "date_time": now().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "sender": f"{instance.owner_phone}@s.whatsapp.net",
        "server_url": server_url,
        "apikey": apikey,
    }


def evolution_inbound(
    instance: EvolutionInstance,
    *,
    sender: str,
    message_id: str,
    name: str | None,
    text: str | None,
    lid: bool,
    at: datetime,
    instance_id: str,
    url: str,
    server_url: str,
    apikey: str | None,
) -> dict[str, Any]:
    phone_jid = f"{digits(sender)}@s.whatsapp.net"
    lid_jid = f"{int(digits(sender)) * 7 % 10**15}@lid"  # any stable LID will do
    key = {
        "remoteJid": lid_jid if lid else phone_jid,
        "remoteJidAlt": phone_jid if lid else lid_jid,
        "fromMe": False,
        "id": message_id,
        "addressingMode": "lid" if lid else "pn",
    }
    data = {
        "key": key,
        "pushName": name or "Sandbox Lead",
        "status": "DELIVERY_ACK",
        "message": {"conversation": text or ""},
        "messageType": "conversation",
        "messageTimestamp": int(at.timestamp()),
        "instanceId": instance_id,
        "source": "android",
    }
    return _evolution_envelope(instance, "messages.upsert", data, url=url, server_url=server_url, apikey=apikey)


EVOLUTION_ACKS = {"sent": "SERVER_ACK", "delivered": "DELIVERY_ACK", "read": "READ", "failed": "ERROR"}


def evolution_status(
    instance: EvolutionInstance,
    *,
    message_id: str,
    status: str,
    recipient: str,
    instance_id: str,
    url: str,
    server_url: str,
    apikey: str | None,
) -> dict[str, Any]:
    data = {
        "keyId": message_id,
        "remoteJid": f"{digits(recipient)}@s.whatsapp.net",
        "fromMe": True,
        "status": EVOLUTION_ACKS[status],
        "instanceId": instance_id,
        "messageId": "cm" + secrets.token_hex(11),
    }
    return _evolution_envelope(instance, "messages.update", data, url=url, server_url=server_url, apikey=apikey)


def evolution_connection(
    instance: EvolutionInstance,
    *,
    state: str,
    status_reason: int,
    url: str,
    server_url: str,
    apikey: str | None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"instance": instance.instance}
    if state == "open":
        data |= {
            "wuid": f"{instance.owner_phone}@s.whatsapp.net",
            "profileName": "Leadflow Sandbox",
            "profilePictureUrl": None,
        }
    data |= {"state": state, "statusReason": status_reason}
    return _evolution_envelope(instance, "connection.update", data, url=url, server_url=server_url, apikey=apikey)
