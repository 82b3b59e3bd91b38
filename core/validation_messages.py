"""Pydantic's validation errors in words for people: the reason given for each refused field of a 422.

Pydantic writes for programmers: "Value error, 'foo@bar' is not an e-mail address", "String should match pattern
'^[a-z0-9](?:…)$'", "Input should be a valid UUID, invalid character: found `n` at 0". The API shows its callers'
users these reasons as they are, so each kind of error gets a sentence a person can act on, read after the field's
name ("slug: lower-case letters, digits and inner hyphens …", "lead_id: not an id …").

A regular expression says nothing to a person: every pattern a request is validated with is declared with its rule in
words (`readable_pattern`), and that rule is the reason. A pattern declared without one still reads as a rule
("not in the form this field accepts"), never as the expression.
"""

from typing import Any

from pydantic_core import ErrorDetails

_PATTERN_RULES: dict[str, str] = {}


def readable_pattern(pattern: str, rule: str) -> str:
    """`pattern`, with `rule` (what the field accepts, in words) as the reason of a value that does not match it."""
    _PATTERN_RULES[pattern] = rule
    return pattern


def _count(n: Any, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def plain_reason(error: ErrorDetails) -> str:
    """Why the value was refused, in a person's words (no "Value error, ", no pattern, no parser internals)."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    message = error["msg"]
    if kind in ("value_error", "assertion_error"):
        # The application's own validators already speak to people: keep their words, without pydantic's prefix.
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"must be at least {_count(minimum, 'character', 'characters')}"
    if kind == "string_too_long":
        return f"must be at most {_count(ctx.get('max_length'), 'character', 'characters')}"
    if kind == "too_short":
        return f"must have at least {_count(ctx.get('min_length'), 'item', 'items')}"
    if kind == "too_long":
        return f"must have at most {_count(ctx.get('max_length'), 'item', 'items')}"
    if kind == "string_pattern_mismatch":
        return _PATTERN_RULES.get(str(ctx.get("pattern")), "not in the form this field accepts")
    if kind in ("uuid_parsing", "uuid_type", "uuid_version"):
        return "not an id: ids are UUIDs such as 123e4567-e89b-42d3-a456-426614174000"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type", "decimal_parsing", "decimal_type"):
        return "must be a number"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind in ("datetime_parsing", "datetime_type", "datetime_from_date_parsing"):
        return "must be a date and time such as 2026-12-04T09:00:00Z"
    if kind == "timezone_aware":
        return "must include a time zone, such as Z or +01:00"
    if kind in ("date_parsing", "date_type", "date_from_datetime_parsing"):
        return "must be a date such as 2026-12-04"
    if kind in ("string_type", "string_unicode"):
        return "must be text"
    if kind in ("list_type", "tuple_type", "set_type"):
        return "must be a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be an object"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {ctx.get(key)}"
    if kind in ("literal_error", "enum"):
        return f"must be {ctx.get('expected')}"
    # Anything else: pydantic's sentence with its programmer's subject turned into the field's own.
    for subject in ("Input should be", "String should be", "Value should be"):
        if message.startswith(subject):
            return "must be" + message.removeprefix(subject)
    return message[:1].lower() + message[1:]
