"""Opt-out keywords (STOP and its equivalents in several languages): does an inbound message ask to stop?

Pure. A message opts out when, ignoring case, accents, surrounding punctuation and whitespace, it IS one of the
keywords ("Stop", "ARRÊT!", " baja "), so an ordinary sentence that merely contains "stop" does not opt out.
A button tap (template quick reply, interactive reply) opts out when its title or payload is a keyword or the
"Stop promotions" button Meta offers on marketing templates.
"""

import functools
import unicodedata
from collections.abc import Iterable

DEFAULT_OPT_OUT_KEYWORDS: tuple[str, ...] = (
    # English
    "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "opt out", "opt-out",
    # Spanish / Portuguese
    "alto", "baja", "darme de baja", "parar", "pare", "cancelar", "sair",
    # French, German, Italian
    "arret", "arrêt", "desabonner", "stopp", "abmelden", "fermati", "basta",
    # Hebrew, Arabic
    "הסר", "הסרה", "توقف", "إلغاء",
)  # fmt: skip


# Meta's marketing-template opt-out quick reply: a tap on it is an opt-out whatever keywords a tenant configured.
OPT_OUT_BUTTON_PHRASES: tuple[str, ...] = ("stop promotions",)


def normalise_keyword(text: str) -> str:
    """Case-folded, accent-free, inner whitespace collapsed, surrounding punctuation and emoji stripped."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    # Drop combining marks (é -> e) but keep letters of every script (Hebrew, Arabic).
    without_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = without_marks.split()
    stripped = " ".join(words).strip(" .,!?¡¿;:-_'\"()[]*~")
    return " ".join(stripped.split())


def is_opt_out(body: str | None, keywords: Iterable[str] = DEFAULT_OPT_OUT_KEYWORDS) -> bool:
    """True when the whole message is one opt-out keyword."""
    if not body:
        return False
    text = normalise_keyword(body)
    if not text or len(text) > 40:
        return False
    return text in _normalised(tuple(keywords))


@functools.lru_cache(maxsize=64)
def _normalised(keywords: tuple[str, ...]) -> frozenset[str]:
    """A keyword list as compared: the same few lists (the defaults, each tenant's) come back for every message."""
    return frozenset(normalise_keyword(k) for k in keywords)


def is_opt_out_button(
    text: str | None, payload: str | None, keywords: Iterable[str] = DEFAULT_OPT_OUT_KEYWORDS
) -> bool:
    """True when a tapped button's title or payload is an opt-out keyword or the stop-promotions button."""
    phrases = [*keywords, *OPT_OUT_BUTTON_PHRASES]
    # Payloads are often identifiers ("STOP_PROMOTIONS"): underscores read as spaces.
    return is_opt_out(text, phrases) or is_opt_out(payload.replace("_", " ") if payload else None, phrases)
