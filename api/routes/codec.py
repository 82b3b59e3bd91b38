"""`POST /codec/decode`: the remote codec the Temporal Web UI calls to show decoded payloads (core/payload_codec.py).

Only a system admin's session may decode (the UI sends the API's session cookie when its codec setting "include
cross-origin credentials" is on; `./run up` points the UI at this endpoint). Decoding changes nothing, so no CSRF
token is asked; other origins cannot read the answer (CORS allows only `LEADFLOW_TEMPORAL_UI_URL` on /codec).
The body is the UI's: `{"payloads": [{"metadata": {"encoding": "<base64>"}, "data": "<base64>"}]}`.
"""

from typing import Any

from fastapi import APIRouter, Request

from api.deps import SessionDep
from api.openapi import raises
from api.security import authenticate
from core.errors import Forbidden, Unauthorized, Unprocessable
from core.payload_codec import EncryptionCodec, MalformedPayloads, decode_json
from domain.permissions import Action, allowed

router = APIRouter(prefix="/codec", tags=["admin"])


@raises(401, 403, 422)
@router.post("/decode", include_in_schema=False)
async def decode_payloads(request: Request, session: SessionDep) -> dict[str, Any]:
    principal = await authenticate(request, session)
    if principal is None:
        raise Unauthorized("log in to the API as a system admin in this browser to see decoded payloads")
    if not allowed(principal.role, Action.PAYLOAD_DECODE):
        raise Forbidden(f"role '{principal.role}' may not read workflow payloads")
    codec: EncryptionCodec = request.app.state.payload_codec
    try:
        return await decode_json(codec, await request.body())
    except MalformedPayloads as exc:
        raise Unprocessable(str(exc)) from None
