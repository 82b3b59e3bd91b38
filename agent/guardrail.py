"""The facts guardrail: a reply that states a price, a date, a time, a percentage or a promise that is not in what
the agent was given (the business facts, the tools' results, the lead's own words) goes to a person as a draft.

Deliberately simple and predictable: it extracts such claims with patterns and looks for each one's numbers (or,
for promise words, the word) in the allowed text. It errs towards asking a person.
"""

import re
from dataclasses import dataclass

MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
CLAIM_PATTERNS = {
    "price": re.compile(
        r"(?:[$€£¥]\s?\d[\d.,]*|\d[\d.,]*\s?(?:[$€£¥]|eur|euros?|usd|dollars?|gbp|pounds?|reais|brl|mxn)\b)", re.I
    ),
    "percentage": re.compile(r"\d[\d.,]*\s?(?:%|percent\b|per cent\b)", re.I),
    "date": re.compile(
        rf"(?:\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS})[a-z]*\b|\b(?:{MONTHS})[a-z]*\s+\d{{1,2}}(?:st|nd|rd|th)?\b)",
        re.I,
    ),
    "time": re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b|\b\d{1,2}:\d{2}\b", re.I),
}
PROMISE_WORDS = ("guarantee", "guaranteed", "promise", "free", "refund", "discount", "off", "waive", "bonus", "gift")
PROMISE_PATTERN = re.compile(r"\b(" + "|".join(PROMISE_WORDS) + r")\b", re.I)


@dataclass(frozen=True, slots=True)
class Verdict:
    unsupported: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.unsupported

    @property
    def reason(self) -> str:
        return "guardrail: not in the facts: " + ", ".join(self.unsupported)


def _numbers(text: str) -> set[str]:
    return {n.lstrip("0") or "0" for n in re.findall(r"\d+", text)}


def check_reply(reply: str, *, allowed: list[str]) -> Verdict:
    """Each claim in `reply` must be backed by `allowed` (facts, tool results, the lead's messages)."""
    allowed_text = "\n".join(allowed).lower()
    allowed_numbers = _numbers(allowed_text)
    unsupported: list[str] = []
    for pattern in CLAIM_PATTERNS.values():
        for match in pattern.finditer(reply):
            claim = match.group(0).strip()
            if not _numbers(claim) <= allowed_numbers:
                unsupported.append(claim)
    for match in PROMISE_PATTERN.finditer(reply):
        word = match.group(1).lower()
        if word == "off" and not re.search(r"\d\s?%?\s*off\b", reply[max(0, match.start() - 8) : match.end()], re.I):
            continue  # "off" only counts as "20% off"
        if not re.search(rf"\b{re.escape(word)}\b", allowed_text):
            unsupported.append(word)
    return Verdict(unsupported=tuple(dict.fromkeys(unsupported)))
