"""What the catalogue knows of one model: its windows and its prices, with their sources.

Prices are US dollars per million tokens (the unit every provider publishes), windows are
tokens. A call's cost follows the providers' published billing rules:

- ``input_tokens`` is every input token billed, cached ones included; cache reads are billed at
  ``cached_input_price`` and cache writes at ``cache_write_price`` instead of ``input_price``
  (OpenAI "Prompt caching", Anthropic "Pricing: prompt caching", Gemini "Context caching").
- Reasoning ("thinking") tokens are output tokens and are billed at ``output_price``.
- A model with a long-context tier (Gemini 2.5 Pro above 200,000 prompt tokens, GPT-5.4 above
  272,000, Claude Haiku 5.5 above 100,000) bills *every* token of a request whose prompt is over
  the threshold at the tier's prices, as those providers state.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LongContextPrices", "ModelInfo"]

_PER_MILLION = 1_000_000


@dataclass(frozen=True)
class LongContextPrices:
    """Prices for a request whose prompt is over ``threshold`` input tokens.

    Attributes:
        threshold: input tokens (cached included) above which the whole request bills here.
        input_price, output_price, cached_input_price, cache_write_price: USD per 1M tokens;
            ``None`` falls back to the model's base price of the same kind.
    """

    threshold: int
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None
    cache_write_price: float | None = None


@dataclass(frozen=True)
class ModelInfo:
    """One model of the catalogue. Every figure is optional: one nobody could source is ``None``.

    Attributes:
        name: the model id as its provider spells it (``"gpt-4o"``, ``"claude-sonnet-4-5"``).
        provider: ``"openai"``, ``"anthropic"``, ``"google"``, ``"meta"``, ``"mistral"``,
            ``"deepseek"``, or a litellm provider name for entries loaded from litellm files.
        context_window: the context window the provider states, in tokens. On OpenAI and
            Anthropic it is shared by the prompt and the output.
        max_input_tokens: the largest prompt, in tokens, where the provider states it apart
            from the window (GPT-5: 272,000 of a 400,000 window).
        max_output_tokens: the most output tokens one request may produce.
        input_price, output_price: USD per 1M input / output tokens.
        cached_input_price: USD per 1M input tokens read from a prompt cache.
        cache_write_price: USD per 1M input tokens written to a prompt cache (Anthropic's
            5-minute cache write; OpenAI and Gemini charge none beyond the input price).
        long_context: prices above a prompt-length threshold, or ``None``.
        sources: where the figures were read (provider pages first), newest layer first.
        as_of: the date (``YYYY-MM-DD``) the figures were read, or ``None`` when unknown.
        note: how the figures were checked, or a caveat (a price change, a retirement).
    """

    name: str
    provider: str | None = None
    context_window: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    input_price: float | None = None
    output_price: float | None = None
    cached_input_price: float | None = None
    cache_write_price: float | None = None
    long_context: LongContextPrices | None = None
    sources: tuple[str, ...] = ()
    as_of: str | None = None
    note: str | None = None

    @property
    def priced(self) -> bool:
        """Whether a call's cost can be computed (input and output prices are known)."""
        return self.input_price is not None and self.output_price is not None

    @property
    def window(self) -> int | None:
        """The most prompt tokens one request may hold: ``max_input_tokens`` where the
        provider states it, else ``context_window`` (``None`` when neither is known)."""
        return self.max_input_tokens if self.max_input_tokens is not None else self.context_window

    def cost(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> float | None:
        """The cost of one call in US dollars, or ``None`` when the model is not priced.

        Args:
            input_tokens: every input token billed, cache reads and writes included.
            output_tokens: every output token, reasoning included.
            cached_input_tokens: of ``input_tokens``, those read from a cache; billed at
                ``cached_input_price`` (at ``input_price`` when the model has none, an upper
                bound: no provider bills a cache hit above its input price).
            cache_write_tokens: of ``input_tokens``, those written to a cache; billed at
                ``cache_write_price`` (at ``input_price`` when the model has none: OpenAI and
                Gemini bill writes as plain input).

        >>> ModelInfo("m", input_price=2.5, output_price=10.0, cached_input_price=1.25).cost(
        ...     1_000, 100, cached_input_tokens=400)
        0.003
        """
        if self.input_price is None or self.output_price is None:
            return None
        inp, out = self.input_price, self.output_price
        cached, write = self.cached_input_price, self.cache_write_price
        tier = self.long_context
        if tier is not None and input_tokens > tier.threshold:
            inp = tier.input_price if tier.input_price is not None else inp
            out = tier.output_price if tier.output_price is not None else out
            cached = tier.cached_input_price if tier.cached_input_price is not None else cached
            write = tier.cache_write_price if tier.cache_write_price is not None else write
        fresh = max(0, input_tokens - cached_input_tokens - cache_write_tokens)
        dollars = (
            fresh * inp
            + cached_input_tokens * (inp if cached is None else cached)
            + cache_write_tokens * (inp if write is None else write)
            + output_tokens * out
        )
        return dollars / _PER_MILLION
