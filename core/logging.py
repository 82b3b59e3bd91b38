"""Structured logs: one JSON object a line on stderr, with the ids of core/log_context.py, scrubbed of personal data.

Every process (API, worker, dispatcher) calls `configure_logging` at start; the API hands `logging_config` to uvicorn
so its own lines take the same form. Lines never carry a phone number or a credential: messages and tracebacks pass
through `redact` (phone-number-shaped digits, API keys, bearer tokens, `password=` pairs), and code logs ids, never
names, numbers or message bodies. `LEADFLOW_LOG_FORMAT=text` gives one readable line per record (a terminal).
"""

import json
import logging
import logging.config
import re
from datetime import UTC, datetime
from typing import Any

from temporalio import activity, workflow

from core.config import Settings
from core.log_context import current

_PHONE_PLUS = re.compile(r"\+\d[\d ()\-]{5,}\d")
# Bare digit runs as WhatsApp ids carry them (14155550123); not a part of a UUID, a decimal, a date or a word.
_PHONE_BARE = re.compile(r"(?<![\w.\-:])\d{8,15}(?![\w\-:]|\.\d)")
_API_KEY = re.compile(r"\blf_[A-Za-z0-9_\-]{8,}")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+")
_SECRET_PAIR = re.compile(
    r"(?i)\b(password|passwd|secret|token|api_key|apikey|authorization)(\"?\s*[:=]\s*\"?)[^\s\",}&]+"
)


def redact(text: str) -> str:
    """`text` without phone numbers or credentials."""
    text = _API_KEY.sub("[api-key]", text)
    text = _BEARER.sub(r"\1 [redacted]", text)
    text = _SECRET_PAIR.sub(r"\1\2[redacted]", text)
    text = _PHONE_PLUS.sub("[phone]", text)
    return _PHONE_BARE.sub("[phone]", text)


def _temporal_ids(record: logging.LogRecord) -> dict[str, str]:
    """Ids the Temporal SDK's workflow and activity loggers attach (`temporal_workflow`, `temporal_activity`)."""
    ids: dict[str, str] = {}
    for attribute in ("temporal_workflow", "temporal_activity"):
        info = getattr(record, attribute, None)
        if isinstance(info, dict):
            for source, target in (("workflow_id", "workflow_id"), ("run_id", "run_id"), ("activity_type", "activity")):
                if info.get(source):
                    ids[target] = str(info[source])
            if info.get("workflow_type") and "activity" not in ids:
                ids["workflow_type"] = str(info["workflow_type"])
    return ids


def lead_id_of(workflow_id: str) -> str | None:
    """The lead id inside a lead workflow's id (`lead:{tenant_slug}:{lead_id}`, workflows/ids.py)."""
    kind, _, rest = workflow_id.partition(":")
    return rest.rpartition(":")[2] or None if kind == "lead" else None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        line.update(current().items())
        line.update(_temporal_ids(record))
        if "lead_id" not in line and (workflow_id := line.get("workflow_id")):
            if lead_id := lead_id_of(workflow_id):
                line["lead_id"] = lead_id
        for name, value in getattr(record, "fields", {}).items():
            line[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={v}" for k, v in {**current().items(), **_temporal_ids(record)}.items())
        return redact(super().format(record) + (f" [{ids}]" if ids else ""))


def logging_config(settings: Settings) -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: everything, uvicorn's loggers included, through one stderr handler."""
    formatter = "json" if settings.log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "core.logging.JsonFormatter"},
            "text": {"()": "core.logging.TextFormatter"},
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": formatter, "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": settings.log_level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # The API logs each request itself (api/request_context.py), with its ids and route template, never the
            # query string, which may hold a phone number.
            "uvicorn.access": {"handlers": [], "propagate": False},
            # httpx logs each request's URL at INFO; provider URLs carry account ids, not people.
            "httpx": {"level": "WARNING"},
        },
    }


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
    # The fields carry the ids; the SDK would otherwise also append its info dict to every message.
    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False
