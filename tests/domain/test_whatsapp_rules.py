"""Pure WhatsApp rules: opt-out keywords in several languages and the 24-hour customer-service window."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.opt_out import is_opt_out, is_opt_out_button
from domain.whatsapp_window import SendMode, decide_send

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["STOP", "stop", " Stop! ", "UNSUBSCRIBE", "cancel", "ALTO", "Baja", "PARAR", "arrêt", "ARRET.", "Stopp",
             "הסר", "darme de baja"],
)  # fmt: skip
def test_opt_out_keywords(text: str) -> None:
    assert is_opt_out(text)


@pytest.mark.parametrize("text", ["", "ok", "please don't stop", "stop by at 5?", "Is it still available?", None])
def test_ordinary_messages_do_not_opt_out(text: str | None) -> None:
    assert not is_opt_out(text)


def test_a_tenant_can_configure_its_own_keywords() -> None:
    assert is_opt_out("basta ya", ["basta ya"]) and not is_opt_out("STOP", ["basta ya"])


@pytest.mark.parametrize(
    ("text", "payload"),
    [("Stop promotions", "Stop promotions"), ("No more offers", "STOP_PROMOTIONS"), ("Unsubscribe", "opt-2"),
     (None, "stop")],
)  # fmt: skip
def test_an_opt_out_button_tap(text: str | None, payload: str | None) -> None:
    assert is_opt_out_button(text, payload)


def test_the_stop_promotions_button_opts_out_whatever_keywords_a_tenant_configured() -> None:
    assert is_opt_out_button("Stop promotions", None, ["basta ya"])


@pytest.mark.parametrize(("text", "payload"), [("Book a visit", "book_visit"), ("Stop by on Friday", "visit_fri")])
def test_an_ordinary_button_tap_does_not_opt_out(text: str, payload: str) -> None:
    assert not is_opt_out_button(text, payload)


def test_free_text_inside_the_window() -> None:
    decision = decide_send(
        wants_template=None, fallback_template="t", last_inbound_at=NOW - timedelta(hours=23), now=NOW
    )
    assert decision.mode is SendMode.TEXT


def test_outside_the_window_the_fallback_template() -> None:
    decision = decide_send(
        wants_template=None, fallback_template="follow_up", last_inbound_at=NOW - timedelta(hours=24), now=NOW
    )
    assert (decision.mode, decision.template) == (SendMode.TEMPLATE, "follow_up")


def test_never_wrote_and_no_template_is_refused_with_a_reason() -> None:
    decision = decide_send(wants_template=None, fallback_template=None, last_inbound_at=None, now=NOW)
    assert decision.mode is SendMode.REFUSED and decision.reason and "template" in decision.reason


def test_a_template_asked_for_is_always_a_template_and_baileys_has_no_window() -> None:
    assert decide_send(wants_template="x", fallback_template=None, last_inbound_at=None, now=NOW).template == "x"
    no_window = decide_send(
        wants_template=None, fallback_template=None, last_inbound_at=None, now=NOW, provider_has_window=False
    )
    assert no_window.mode is SendMode.TEXT
