"""Phone numbers: normalisation to E.164 and the lead's local time zone, via `phonenumbers`."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    """Return `raw` in E.164 (`+14155550123`), reading national formats in `default_region`.

    `00…` is read as `+…` first (the prefix most of the world dials, so `0091 …` stays an Indian number in any
    region); only when that is no valid number is the region's own international prefix tried (AU `0011 44 …`,
    KR `001 44 …`, BR `0021 44 …`).
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("empty")
    region = default_region.upper()
    if not text.startswith("00"):
        return _parse_valid(text, region)
    try:
        return _parse_valid("+" + text[2:], region)
    except InvalidPhone as as_plus:
        try:
            return _parse_valid(text, region)
        except InvalidPhone:
            raise as_plus from None


def _parse_valid(text: str, region: str) -> str:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidPhone(_PARSE_REASONS.get(exc.error_type, "not a phone number")) from exc
    length = phonenumbers.is_possible_number_with_reason(number)
    if length not in (ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        raise InvalidPhone(_LENGTH_REASONS.get(length, "invalid length"))
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid number for its country")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def timezone_for_phone(e164: str, fallback: str) -> str:
    """The lead's IANA time zone from its number; `fallback` when the number could be in zones that differ.

    Mobile ranges are often not geographic (`Etc/Unknown`): the country's zones are used then. Several candidate
    zones that keep identical clocks (UK mobiles: London, Jersey, Guernsey, Isle of Man) count as one answer.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return fallback
    zones = _known(pn_timezone.time_zones_for_number(number))
    if not zones:
        zones = _known(pn_timezone._country_level_time_zones_for_number(number))
    if len(zones) == 1 or (zones and _same_clocks(zones)):
        # Equivalent zones: any of them gives the same local times; take a stable pick.
        return max(zones)
    return fallback


# Instants spread over a year, including both sides of the northern and southern DST changes.
_PROBES = [
    datetime(2026, month, day, 12, tzinfo=UTC) for month, day in ((1, 15), (3, 30), (4, 10), (7, 15), (10, 30), (11, 5))
]


def _known(zones: tuple[str, ...]) -> list[str]:
    found = []
    for key in zones:
        try:
            ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        found.append(key)
    return found


def _same_clocks(zones: list[str]) -> bool:
    offsets = {tuple(probe.astimezone(ZoneInfo(key)).utcoffset() for probe in _PROBES) for key in zones}
    return len(offsets) == 1


def region_of(e164: str) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except NumberParseException:
        return None
