"""Phone normalisation: national formats read in the tenant's region, `+`/`00` international forms and the region's
own international prefix (AU 0011, KR 001), and the reason a person sees when a number is rejected."""

import pytest

from core.phone import InvalidPhone, normalize_phone, region_of, timezone_for_phone


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(415) 555-0123", "US", "+14155550123"),
        ("415.555.0123", "US", "+14155550123"),
        ("1 415 555 0123", "US", "+14155550123"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("07911 123456", "GB", "+447911123456"),
        ("052-555-1234", "IL", "+972525551234"),
        ("03-555-1234", "IL", "+97235551234"),
        ("098765 43210", "IN", "+919876543210"),
        ("98765 43210", "IN", "+919876543210"),
        ("030 12345678", "DE", "+493012345678"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("030 12345678", "de", "+493012345678"),
    ],
)
def test_national_formats_are_read_in_the_default_region(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize("region", ["US", "GB", "IL", "IN", "DE"])
@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+44 20 7946 0018", "+442079460018"),
        ("+1 (202) 555-0199", "+12025550199"),
        ("+972 52 555 1234", "+972525551234"),
        ("0049 30 12345678", "+493012345678"),
    ],
)
def test_international_forms_ignore_the_default_region(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("0011 44 20 7946 0018", "AU", "+442079460018"),  # Australia dials abroad with 0011
        ("0011 1 202 555 0143", "AU", "+12025550143"),
        ("0021 44 20 7946 0018", "BR", "+442079460018"),  # Brazil: 00 + carrier code (21 = Embratel)
        ("001 44 20 7946 0018", "KR", "+442079460018"),  # Korea: 001
    ],
)
def test_international_numbers_with_the_regions_own_prefix_are_accepted(raw: str, region: str, e164: str) -> None:
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("0091 81234 56789", "ID", "+918123456789"),  # India, not +1 812… through Indonesia's 001
        ("001 201 555 0123", "HK", "+12015550123"),
        ("00212 520 123456", "BR", "+212520123456"),
        ("001 649 231 1234", "AU", "+16492311234"),
    ],
)
def test_00_and_a_country_code_keeps_its_country_in_regions_whose_own_prefix_starts_with_00(
    raw: str, region: str, e164: str
) -> None:
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("hello", "US", "not a phone number"),
        ("", "US", "empty"),
        ("   ", "GB", "empty"),
        ("12", "US", "too short"),
        ("123", "GB", "too short"),
        ("+1 415 555 0123 4567", "US", "too long"),
        ("415555012345678901", "US", "too long"),
        ("+999 123", "US", "unknown country code (use +<country code> or a national number)"),
        ("555-0123", "US", "not a valid number for its country"),
    ],
)
def test_invalid_numbers_are_rejected_with_a_reason(raw: str, region: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalize_phone(raw, region)
    assert caught.value.reason == reason


def test_a_national_number_means_different_numbers_in_different_regions() -> None:
    assert normalize_phone("030 12345678", "DE") == "+493012345678"
    with pytest.raises(InvalidPhone):
        normalize_phone("030 12345678", "US")


@pytest.mark.parametrize(
    ("e164", "zone"),
    [
        ("+14155550123", "America/Los_Angeles"),
        ("+12025550199", "America/New_York"),
        ("+442079460018", "Europe/London"),
        ("+972525551234", "Asia/Jerusalem"),
        ("+493012345678", "Europe/Berlin"),
    ],
)
def test_time_zone_comes_from_the_number(e164: str, zone: str) -> None:
    assert timezone_for_phone(e164, "UTC") == zone


def test_zones_that_keep_the_same_clocks_count_as_one() -> None:
    # UK mobiles map to London, Jersey, Guernsey and the Isle of Man, which all keep London's clocks.
    assert timezone_for_phone("+447911123456", "Asia/Tokyo") == "Europe/London"


def test_a_mobile_range_without_geography_takes_its_country_zone() -> None:
    # Israeli mobiles are not geographic in libphonenumber's data; the country has one zone.
    assert timezone_for_phone("+972521234567", "UTC") == "Asia/Jerusalem"


def test_time_zone_falls_back_when_the_number_spans_zones_that_differ() -> None:
    # A US toll-free number could ring in any US zone.
    assert timezone_for_phone("+18005550199", "Europe/Dublin") == "Europe/Dublin"
    assert timezone_for_phone("not a number", "Asia/Tokyo") == "Asia/Tokyo"


def test_region_of_a_number() -> None:
    assert region_of("+493012345678") == "DE"
    assert region_of("garbage") is None
