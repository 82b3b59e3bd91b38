"""Phone numbers: normalisation to E.164 and the lead's local time zone, via `phonenumbers`."""

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from phonenumbers import timezone as pn_timezone
from phonenumbers.phonenumberutil import ValidationResult

_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code (use +<country code> or a national number)",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}

_LENGTH_REASONS = {
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "invalid length for its country",
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
}


class InvalidPhone(ValueError):
    """Raised with a reason a person can act on ("too short", "not a phone number"...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize_phone(raw: str, default_region: str) -> str:
    """Return `raw` in E.164 (`+14155550123`), reading national formats in `default_region`."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except NumberParseException as exc:
        raise InvalidPhone(_PARSE_REASONS.get(exc.error_type, "not a phone number")) from exc
    length = phonenumbers.is_possible_number_with_reason(number)
    if length not in (ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        raise InvalidPhone(_LENGTH_REASONS.get(length, "invalid length"))
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number for its country")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def timezone_for_phone(e164: str, fallback: str) -> str:
    """The lead's IANA time zone from its number; `fallback` when the number spans several zones."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return fallback
    zones = [z for z in pn_timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    return zones[0] if len(set(zones)) == 1 else fallback


def region_of(e164: str) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except NumberParseException:
        return None
