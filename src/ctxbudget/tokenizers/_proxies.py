"""Proxies for models whose tokenizer is not public: o200k_base counts times a safety factor.

Anthropic has published no tokenizer since Claude 3, and Google none for Gemini; both offer a
count-tokens API instead (see ``_providers.py``). Until a count comes from the provider, a
proxy counts with o200k_base and scales up by a factor chosen to stay above the published
comparisons, so a cap set on proxy counts holds against the provider's count for the content
those comparisons cover. Every proxy is ``approximate``: reports built with one say so.

The factors and their sources (docs/tokenizers.md has the full table):

- ``claude`` (Claude 3 through Claude 4.6), 1.35: Claude 3.5 Sonnet's tokenizer gives 16%
  more tokens than GPT-4o's (o200k_base) on English articles, 21% more on math and 30% more
  on Python code ("Hidden costs in AI deployment: why Claude models may be 20-30% more
  expensive than GPT in enterprise settings", VentureBeat, May 2025); 1.35 leaves 5 points
  above the largest.
- ``claude-4.7`` (Claude Opus 4.7 and later, Claude 5), 2.0: Anthropic's Opus 4.7 release
  notes say its new tokenizer uses "roughly 1x to 1.35x" the tokens of earlier models;
  independent counts through Anthropic's own count-tokens endpoint measured up to 1.47x
  (technical documentation; English prose 1.45x: claudecodecamp.com, "I measured Claude 4.7's
  new tokenizer", and sol.ava.dev, 2026-04-17). 1.30 x 1.47 = 1.91; 2.0 is above it.
- ``gemini``, 1.25: Google publishes no comparison; third-party ones put Gemini within about
  5-15% of o200k_base on English text, above or below it (techcompare.app, "Gemini
  tokenization"; G. Anhaia, "Tokenizer quirks", dev.to). Not measured here: a conservative
  choice. (Gemma 3 uses Gemini 2.0's tokenizer, per the Gemma 3 technical report: with a
  Gemma 3 ``tokenizer.json`` in the Hugging Face cache, ``hf:google/gemma-3-1b-it`` counts
  closer.)
- ``llama``, ``deepseek`` (on request only, ``proxy:llama-3.1``: their tokenizers are public
  and resolve from the Hugging Face cache), 1.15: measured here, the Llama 3.2 and DeepSeek V3
  ``tokenizer.json`` counts are at most 1.11x and 1.13x o200k_base's on every document of the
  shared ShareGPT / Python docs / Jargon File corpus (median 1.01x, 1.01x).
- ``qwen`` 1.25 and ``mistral`` 1.35 (on request only): not measured; conservative choices
  (Mistral's older 32k SentencePiece vocabularies split English more finely than o200k_base).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

from .._errors import TokenizerError
from ..typing import Tokenizer

__all__ = ["PROXIES", "Proxy", "ProxyTokenizer"]


@dataclass(frozen=True)
class Proxy:
    """How one model family is counted without its tokenizer.

    Attributes:
        family: the family's name (``"claude"``, ``"gemini"``...).
        factor: o200k_base counts are multiplied by this, then rounded up.
        models: the models it stands for.
        source: where the factor comes from.
        encoding: the tiktoken encoding counted (``"o200k_base"``).
    """

    family: str
    factor: float
    models: str
    source: str
    encoding: str = "o200k_base"


PROXIES: Mapping[str, Proxy] = MappingProxyType(
    {
        p.family: p
        for p in (
            Proxy(
                "claude",
                1.35,
                "Claude 3 to Claude 4.6 (and the legacy Claude 1 and 2)",
                "Claude 3.5 Sonnet vs GPT-4o: +16% English, +21% math, +30% Python "
                "(VentureBeat, May 2025); 5 points above the largest",
            ),
            Proxy(
                "claude-4.7",
                2.0,
                "Claude Opus 4.7 and later, Claude 5 (and any Claude model not recognised)",
                "Opus 4.7 vs 4.6: up to 1.35x (Anthropic), 1.47x measured (claudecodecamp.com, "
                "sol.ava.dev, 2026-04); 1.30 x 1.47 = 1.91 < 2.0",
            ),
            Proxy(
                "gemini",
                1.25,
                "every Gemini model",
                "third-party comparisons: within about 5-15% of o200k_base on English; a "
                "conservative choice, not measured",
            ),
            Proxy(
                "llama",
                1.15,
                "Llama 3 and 4 (on request: proxy:llama-...)",
                "measured on the shared corpus: Llama 3.2 counts at most 1.11x o200k_base's",
            ),
            Proxy(
                "deepseek",
                1.15,
                "DeepSeek V3 and R1 (on request: proxy:deepseek-...)",
                "measured on the shared corpus: DeepSeek V3 counts at most 1.13x o200k_base's",
            ),
            Proxy(
                "qwen",
                1.25,
                "Qwen 2 to 3 (on request: proxy:qwen...)",
                "not measured: a conservative choice",
            ),
            Proxy(
                "mistral",
                1.35,
                "Mistral and Mixtral (on request: proxy:mistral-...)",
                "not measured: a conservative choice covering the older 32k vocabularies",
            ),
        )
    }
)


class ProxyTokenizer:
    """Another tokenizer's counts times a safety factor, rounded up: a stand-in for a model
    whose tokenizer is not public. Count-only (no ``encode``/``decode``) and ``approximate``.

    Args:
        inner: the tokenizer counted (o200k_base for the bundled proxies).
        factor: the multiplier, a finite number >= 1 (taken as its exact decimal value, so
            ``180 * 1.35`` is 243, not 244).
        family: the family it stands for (in the name, e.g. ``"claude"``).

    Raises:
        TokenizerError: ``factor`` is not a finite number >= 1.

    >>> from ctxbudget import get_tokenizer
    >>> claude = get_tokenizer("claude-sonnet-4-5")
    >>> (claude.name, claude.approximate)
    ('claude~o200k_base*1.35', True)
    """

    approximate = True

    def __init__(self, inner: Tokenizer, factor: float, *, family: str) -> None:
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 1:
            raise TokenizerError(
                f"a proxy factor must be a number >= 1, got {factor!r}", spec=family
            )
        if factor == float("inf"):
            raise TokenizerError(f"a proxy factor must be finite, got {factor!r}", spec=family)
        self.inner = inner
        self.factor = float(factor)
        self.family = family
        self._ratio = Fraction(repr(self.factor))
        self._name = f"{family}~{inner.name}*{self.factor:g}"

    @property
    def name(self) -> str:
        """``"<family>~<inner>*<factor>"``, e.g. ``"claude~o200k_base*1.35"``."""
        return self._name

    def count(self, text: str) -> int:
        """``ceil(inner.count(text) * factor)``."""
        return self._scale(self.inner.count(text))

    def count_lower_bound(self, text: str, above: int) -> int:
        """The inner tokenizer's lower bound, scaled (0 when it declares none): a proxy count
        is never below it, so huge items need not be counted (see the ``Tokenizer`` protocol)."""
        bound = getattr(self.inner, "count_lower_bound", None)
        if callable(bound):
            return self._scale(int(bound(text, int(above / self.factor))))
        longest = getattr(self.inner, "max_token_bytes", None)
        if isinstance(longest, int) and not isinstance(longest, bool) and longest > 0:
            return self._scale(-(-len(text) // longest))
        return 0

    def _scale(self, n: int) -> int:
        ratio = self._ratio
        return -(-n * ratio.numerator // ratio.denominator)

    def __repr__(self) -> str:
        return (
            f"ProxyTokenizer({self.inner.name!r}, factor={self.factor:g}, family={self.family!r})"
        )
