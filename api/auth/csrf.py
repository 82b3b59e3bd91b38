"""CSRF protection for cookie-authenticated writes (double submit).

Login sets a readable cookie holding the session's CSRF token; a POST/PUT/PATCH/DELETE authenticated by the session
cookie must echo that token in the `X-CSRF-Token` header. Another site can make the browser send the cookie but
cannot read it, so it cannot send the header. Requests with `Authorization: Bearer` carry no ambient credential and
are exempt; so is login, which has no session yet.
"""

import hmac

from fastapi import Request

from api.auth.principal import Principal
from core.errors import Forbidden

CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfRejected(Forbidden):
    code = "csrf_failed"


def enforce_csrf(request: Request, principal: Principal) -> None:
    if principal.via != "session" or request.method not in UNSAFE_METHODS:
        return
    cookie_name = request.app.state.settings.csrf_cookie_name
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        raise CsrfRejected(
            f"missing {CSRF_HEADER} header: a write with a session cookie must send the value of the "
            f"'{cookie_name}' cookie in it"
        )
    if not hmac.compare_digest(sent.encode(), (principal.csrf_token or "").encode()):
        raise CsrfRejected(
            f"{CSRF_HEADER} does not match this session's token: send the current value of the '{cookie_name}' "
            "cookie (it changes at every login)"
        )
