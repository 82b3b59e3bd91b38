"""The facts guardrail: claims in a reply (prices, percentages, dates, times, promises) must come from the facts,
the tools' results or the lead's own words; anything else holds the reply for a person."""

import pytest

from agent.guardrail import check_reply

FACTS = ["Membership price: 40 EUR per month", "Opening hours: 06:00-22:00 every day", "First class is free"]


@pytest.mark.parametrize(
    "reply",
    [
        "Membership price: 40 EUR per month.",
        "It's €40 a month, and your first class is free!",
        "We are open 06:00-22:00 every day.",
        "Thanks for your message! What are you looking for?",
        "Done: a colleague will call you on 2026-12-05 at 10:00.",  # from the tool's result below
    ],
)
def test_replies_backed_by_what_the_agent_was_given_pass(reply: str) -> None:
    tool_result = '{"ok": true, "at_local": "2026-12-05T10:00"}'
    assert check_reply(reply, allowed=[*FACTS, tool_result]).ok


@pytest.mark.parametrize(
    ("reply", "claim"),
    [
        ("I can offer you 50% off if you sign up today!", "50%"),
        ("It is only $25 this week.", "$25"),
        ("We can start on 12 March.", "12 March"),
        ("See you at 7pm!", "7pm"),
        ("Your money back, guaranteed.", "guaranteed"),
        ("I promise you will love it.", "promise"),
    ],
)
def test_claims_not_in_the_facts_are_named(reply: str, claim: str) -> None:
    verdict = check_reply(reply, allowed=FACTS)
    assert not verdict.ok
    assert claim in verdict.unsupported
    assert verdict.reason.startswith("guardrail: not in the facts: ")


def test_the_leads_own_words_back_a_claim() -> None:
    assert check_reply("Sure, Thursday 5pm works.", allowed=[*FACTS, "can I come Thursday at 5pm?"]).ok
