"""An estimate with no vocabulary: characters per token."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._errors import TokenizerError
from ..typing import Tokenizer

__all__ = ["ApproxTokenizer", "load_approx"]


class ApproxTokenizer:
    """An estimate with no vocabulary: one token per ``chars_per_token`` characters, rounded up.

    The default of 4 characters is OpenAI's rule of thumb for English text. Counts are not
    those of any model; reports built with this tokenizer are marked approximate. ``encode``
    packs each run of up to ``chars_per_token`` characters into one integer id, so decoding is
    exact and ``count(text) == len(encode(text))``.
    """

    byte_level = False
    approximate = True

    def __init__(self, chars_per_token: int = 4) -> None:
        if isinstance(chars_per_token, bool) or not isinstance(chars_per_token, int):
            raise TypeError(f"chars_per_token must be an int, got {chars_per_token!r}")
        if chars_per_token < 1:
            raise ValueError(f"chars_per_token must be >= 1, got {chars_per_token}")
        self._n = chars_per_token

    @property
    def name(self) -> str:
        """``"approx"`` (or ``"approx:<n>"`` for a non-default characters-per-token)."""
        return "approx" if self._n == 4 else f"approx:{self._n}"

    def count(self, text: str) -> int:
        """``ceil(len(text) / chars_per_token)``."""
        return math.ceil(len(text) / self._n)

    def encode(self, text: str) -> list[int]:
        """One id per run of characters; each id packs up to ``chars_per_token`` code points."""
        n = self._n
        ids = []
        for start in range(0, len(text), n):
            value = 1  # a sentinel bit above the last code point marks the run's length
            for ch in reversed(text[start : start + n]):
                value = (value << 21) | ord(ch)
            ids.append(value)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` produced by :meth:`encode`."""
        out = []
        for packed in ids:
            value = packed
            while value > 1:
                out.append(chr(value & 0x1FFFFF))
                value >>= 21
        return "".join(out)

    def __repr__(self) -> str:
        return f"ApproxTokenizer({self._n})"


def load_approx(spec: str) -> Tokenizer:
    if spec == "approx":
        return ApproxTokenizer()
    raw = spec.partition(":")[2]
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise TokenizerError(
            f"bad approx tokenizer {spec!r}: write 'approx' or 'approx:<characters per token>' "
            f"with a whole number >= 1",
            spec=spec,
        )
    return ApproxTokenizer(int(raw))
