"""Cost estimates: US dollars per million tokens, input and output, by model name.

Source: the vendors' published API price lists (OpenAI "API pricing", Anthropic "Pricing"),
list prices as of 2025; prices change, so pass your own table to ``SessionBudget(prices=...)``.
A model is matched by exact name, then by the longest known prefix (``gpt-4o-2024-08-06`` ->
``gpt-4o``); an unknown or missing model costs 0.0.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT_PRICES", "estimate_cost"]

#: model -> (USD per 1M input tokens, USD per 1M output tokens)
DEFAULT_PRICES: Mapping[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o3-mini": (1.10, 4.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-opus": (15.00, 75.00),
}


def estimate_cost(
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    prices: Mapping[str, tuple[float, float]] = DEFAULT_PRICES,
) -> float:
    """Estimated cost in US dollars of one call (0.0 when the model is unknown or ``None``)."""
    if model is None:
        return 0.0
    price = prices.get(model)
    if price is None:
        matches = [name for name in prices if model.startswith(name)]
        if not matches:
            return 0.0
        price = prices[max(matches, key=len)]
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000
