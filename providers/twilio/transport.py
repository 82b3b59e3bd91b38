"""The `twilio` REST client's HTTP layer on the process's shared `httpx.AsyncClient`.

The package builds every URL on `https://api.twilio.com`; this transport swaps that origin for the configured one
(`LEADFLOW_TWILIO_API_BASE_URL`: Twilio itself, or the provider sandbox for provider "sandbox") and sends the request
with httpx. No retries here: Temporal retries the activity that made the call.
"""

import logging
from typing import Any

import httpx
from twilio.http import AsyncHttpClient
from twilio.http.response import Response

TWILIO_API_ORIGIN = "https://api.twilio.com"


class HttpxTwilioClient(AsyncHttpClient):
    def __init__(self, http: httpx.AsyncClient, *, base_url: str, timeout_seconds: float) -> None:
        super().__init__(logger=logging.getLogger("twilio.http_client"), is_async=True, timeout=timeout_seconds)
        self._http = http
        self._base_url = base_url.rstrip("/")

    def rebased(self, url: str) -> str:
        if url.startswith(TWILIO_API_ORIGIN):
            return self._base_url + url[len(TWILIO_API_ORIGIN) :]
        return url

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the signature of twilio's AsyncHttpClient
        allow_redirects: bool = False,
    ) -> Response:
        form: Any = {key: value for key, value in (data or {}).items() if value is not None} or None
        response = await self._http.request(
            method,
            self.rebased(url),
            params=params,  # type: ignore[arg-type]
            data=form,
            headers=headers,
            auth=auth,
            timeout=timeout or self.timeout,
            follow_redirects=allow_redirects,
        )
        return Response(response.status_code, response.text, dict(response.headers))
