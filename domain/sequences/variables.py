"""`{{first_name}}`-style message variables: which names exist, how a text is checked, how it is rendered.

Pure. A placeholder is `{{ name }}` or `{{ name | fallback text }}` (whitespace inside the braces is ignored).
Names: the lead fields `first_name`, `last_name`, `name`, `phone`, `email`, and custom fields as
`{{custom.<key>}}` (key: letters, digits, `_`, `-`).

Missing values: a field that is absent or blank renders as its fallback when one is given (`{{first_name|there}}`
-> "there"), else as the empty string. Rendering never fails at send time — a message is never held back because a
lead has no e-mail address — but the result lists which variables were missing so the preview can warn.
Checking a text (on save) does fail: an unknown name or an unclosed `{{` is an error with the reason.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LEAD_FIELDS: tuple[str, ...] = ("first_name", "last_name", "name", "phone", "email")
CUSTOM_PREFIX = "custom."

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_CUSTOM_KEY = re.compile(r"[A-Za-z0-9_\-]+")


@dataclass(frozen=True, slots=True)
class Placeholder:
    raw: str  # as written, braces included
    name: str  # "first_name", "custom.city"
    fallback: str | None


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    missing: list[str] = field(default_factory=list)  # variable names that had no value (fallback or "" used)


def _parse(inner: str) -> tuple[str, str | None]:
    name, sep, fallback = inner.partition("|")
    return name.strip(), (fallback.strip() if sep else None)


def placeholders(text: str) -> list[Placeholder]:
    return [Placeholder(m.group(0), *_parse(m.group(1))) for m in _PLACEHOLDER.finditer(text)]


def variable_error(name: str) -> str | None:
    """None when `name` is a known variable, else why not."""
    if name in LEAD_FIELDS:
        return None
    if name.startswith(CUSTOM_PREFIX):
        key = name[len(CUSTOM_PREFIX) :]
        if _CUSTOM_KEY.fullmatch(key):
            return None
        return f"custom field variable '{{{{{name}}}}}' needs a key of letters, digits, '_' or '-'"
    known = ", ".join(f"{{{{{f}}}}}" for f in LEAD_FIELDS)
    return f"unknown variable '{{{{{name}}}}}'; use one of {known} or {{{{custom.<key>}}}}"


def check_text(text: str) -> list[str]:
    """Every problem with the placeholders of `text`, as messages a person can act on (empty: fine)."""
    problems = []
    for ph in placeholders(text):
        if not ph.name:
            problems.append(f"empty variable '{ph.raw}'")
            continue
        reason = variable_error(ph.name)
        if reason:
            problems.append(reason)
    # An opening pair left after removing the well-formed placeholders was never closed.
    rest = _PLACEHOLDER.sub("", text)
    if "{{" in rest:
        problems.append("a '{{' is never closed with '}}'")
    elif "}}" in rest:
        problems.append("a '}}' has no opening '{{'")
    return problems


def lead_value(fields: Mapping[str, Any], name: str) -> str:
    """The text a variable stands for ("" when missing). `fields` holds the lead fields and `custom` (a mapping).

    `name` falls back to "first_name last_name" when the lead has no full name stored.
    """
    if name.startswith(CUSTOM_PREFIX):
        custom = fields.get("custom") or {}
        value = custom.get(name[len(CUSTOM_PREFIX) :]) if isinstance(custom, Mapping) else None
    else:
        value = fields.get(name)
        if name == "name" and not _present(value):
            value = " ".join(str(p).strip() for p in (fields.get("first_name"), fields.get("last_name")) if _present(p))
    return str(value).strip() if _present(value) else ""


def _present(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def render(text: str, fields: Mapping[str, Any]) -> Rendered:
    """`text` with every placeholder replaced by the lead's value (see the module docstring for missing values)."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name, fallback = _parse(match.group(1))
        value = lead_value(fields, name)
        if value:
            return value
        if name not in missing:
            missing.append(name)
        return fallback or ""

    return Rendered(_PLACEHOLDER.sub(substitute, text), missing)
