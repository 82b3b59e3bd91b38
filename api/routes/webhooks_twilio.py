"""Twilio Programmable Voice webhooks under `/webhooks/twilio/voice/`.

No login: each request proves itself (the call's attempt token in the URL, `X-Twilio-Signature` over the public URL
and the form with the tenant's auth token); anything else is 403 and nothing is stored. See
api/services/twilio_webhooks.py for the order of work.

| path | what Twilio sends | answer |
|---|---|---|
| `status/{call_id}` | status callbacks (initiated, ringing, answered, completed...) | 200 once stored in the inbox |
| `amd/{call_id}` | the async answering-machine result | 200 once stored |
| `recording/{call_id}` | a recording's SID, URL and duration | 200 once stored |
| `answer/{call_id}` | the call was answered: what now? | TwiML |
| `turn/{call_id}` | what the caller said (`<Gather input="speech">`) | TwiML: the voice agent's reply |
| `dial/{call_id}` | how a `<Dial>` to an agent or the lead ended | TwiML; the result stored |
| `inbound/{account_id}` | someone calls one of the tenant's numbers (the number's Voice URL) | TwiML by the routing |
| `inbound/{account_id}/status` | inbound calls' status callbacks (the number's status callback) | 200 once stored |
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from api.admission import limit_webhooks_in_flight
from api.deps import CallWorkflowsDep, LeadWorkflowsDep, RateLimitsDep, SessionDep, SettingsDep
from api.services import twilio_webhooks as service
from channels.voice.webhooks import SIGNATURE_HEADER, TwilioRequest

router = APIRouter(
    prefix="/webhooks/twilio/voice",
    tags=["webhooks"],
    dependencies=[Depends(limit_webhooks_in_flight, scope="function")],
)
ERRORS: dict[int | str, dict[str, str]] = {
    403: {"description": "unknown call, wrong token or bad signature"},
    429: {"description": "the tenant's webhook or text-to-speech rate limit is used up; see Retry-After"},
}
Token = Annotated[str | None, Query(max_length=100)]
XML = "application/xml"


async def _twilio_request(request: Request) -> TwilioRequest:
    form = await request.form()
    return TwilioRequest(
        path=request.url.path,
        query=request.url.query,
        params={key: str(value) for key, value in form.items()},
        signature=request.headers.get(SIGNATURE_HEADER),
    )


async def _hook(
    request: Annotated[TwilioRequest, Depends(_twilio_request)],
    session: SessionDep,
    settings: SettingsDep,
    limits: RateLimitsDep,
) -> service.TwilioHook:
    return service.TwilioHook(session=session, settings=settings, limits=limits, request=request)


Hook = Annotated[service.TwilioHook, Depends(_hook)]


def _stored_callback(kind: str) -> Callable[..., Awaitable[Response]]:
    async def callback(call_id: uuid.UUID, hook: Hook, token: Token = None) -> Response:
        await service.store_callback(hook, kind=kind, call_id=call_id, token=token)
        return Response(status_code=200)

    return callback


# Status, answering-machine and recording callbacks differ only in the kind they are stored under.
for _kind in ("status", "amd", "recording"):
    router.add_api_route(
        f"/{_kind}/{{call_id}}", _stored_callback(_kind), methods=["POST"], name=f"{_kind}_callback", responses=ERRORS
    )


@router.post("/answer/{call_id}", responses=ERRORS)
async def answer(
    call_id: uuid.UUID, hook: Hook, token: Token = None, wait: Annotated[int, Query(ge=0, le=100)] = 0
) -> Response:
    return Response(await service.answer(hook, call_id=call_id, token=token, wait=wait), media_type=XML)


@router.post("/turn/{call_id}", responses=ERRORS)
async def voice_turn(call_id: uuid.UUID, hook: Hook, workflows: CallWorkflowsDep, token: Token = None) -> Response:
    body = await service.voice_turn(hook, workflows=workflows, call_id=call_id, token=token)
    return Response(body, media_type=XML)


@router.post("/dial/{call_id}", responses=ERRORS)
async def dial_finished(call_id: uuid.UUID, hook: Hook, token: Token = None) -> Response:
    return Response(await service.dial_finished(hook, call_id=call_id, token=token), media_type=XML)


@router.post("/inbound/{account_id}", responses=ERRORS)
async def inbound_call(
    account_id: uuid.UUID, hook: Hook, call_workflows: CallWorkflowsDep, lead_workflows: LeadWorkflowsDep
) -> Response:
    body = await service.inbound(
        hook, call_workflows=call_workflows, lead_workflows=lead_workflows, account_id=account_id
    )
    return Response(body, media_type=XML)


@router.post("/inbound/{account_id}/status", responses=ERRORS)
async def inbound_status(account_id: uuid.UUID, hook: Hook) -> Response:
    await service.inbound_status(hook, account_id=account_id)
    return Response(status_code=200)
