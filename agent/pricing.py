"""Estimated cost of a model call from its token counts: list prices in USD per million tokens.

An estimate, not a bill: prices change and providers round differently. A model not listed is priced at the
default row, so its cost is still shown in the usage rather than left out.
"""

from decimal import Decimal

# model prefix -> (input, cached input, output) USD per 1M tokens; the longest matching prefix wins.
PRICES: dict[str, tuple[Decimal, Decimal, Decimal]] = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.075"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("1.25"), Decimal("10.00")),
    "gpt-4.1-nano": (Decimal("0.10"), Decimal("0.025"), Decimal("0.40")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("0.10"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("0.50"), Decimal("8.00")),
    "sandbox": (Decimal(0), Decimal(0), Decimal(0)),
}
DEFAULT_PRICE = PRICES["gpt-4o-mini"]
MILLION = Decimal(1_000_000)


def estimate_cost(model: str, *, input_tokens: int, cached_tokens: int, output_tokens: int) -> Decimal:
    matches = [prefix for prefix in PRICES if model.startswith(prefix)]
    price_in, price_cached, price_out = PRICES[max(matches, key=len)] if matches else DEFAULT_PRICE
    cached = min(cached_tokens, input_tokens)
    cost = (input_tokens - cached) * price_in + cached * price_cached + output_tokens * price_out
    return (cost / MILLION).quantize(Decimal("0.000001"))
