"""The URLs handed to Twilio for one call. Each carries the call's id and its attempt token: a callback proves
which attempt it belongs to before its signature is even checked, and the first one names the SID Twilio gave it."""

import uuid
from dataclasses import dataclass

WEBHOOK_PREFIX = "/webhooks/twilio/voice"


@dataclass(frozen=True, slots=True)
class CallUrls:
    base: str
    call_id: uuid.UUID
    token: str

    def _url(self, kind: str, **extra: str) -> str:
        query = "&".join(f"{key}={value}" for key, value in {"token": self.token, **extra}.items())
        return f"{self.base.rstrip('/')}{WEBHOOK_PREFIX}/{kind}/{self.call_id}?{query}"

    @property
    def status(self) -> str:
        return self._url("status")

    @property
    def amd(self) -> str:
        return self._url("amd")

    def answer(self, wait: int = 0) -> str:
        return self._url("answer", wait=str(wait)) if wait else self._url("answer")

    @property
    def turn(self) -> str:
        return self._url("turn")

    @property
    def dial(self) -> str:
        return self._url("dial")

    @property
    def recording(self) -> str:
        return self._url("recording")


def inbound_path(account_id: uuid.UUID) -> str:
    return f"{WEBHOOK_PREFIX}/inbound/{account_id}"
