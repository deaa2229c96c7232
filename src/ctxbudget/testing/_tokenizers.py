"""Deterministic tokenizers with no vocabulary: counts that never depend on a download."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["CharTokenizer", "WordTokenizer"]

#: A run of whitespace or a run of anything else. Found in one pass, so long runs cost no more
#: than short ones (growing a string one character at a time was quadratic).
_RUNS = re.compile(r"\s+|\S+")


class CharTokenizer:
    """One token per character (Unicode code point); ids are the code points.

    Counts are exactly additive across joins, which makes expected budgets easy to work out
    by hand in tests.
    """

    name = "test-char"

    def count(self, text: str) -> int:
        """``len(text)``."""
        return len(text)

    def encode(self, text: str) -> list[int]:
        """The code points of ``text``."""
        return [ord(ch) for ch in text]

    def decode(self, ids: Sequence[int]) -> str:
        """The characters of the code points ``ids``."""
        return "".join(chr(i) for i in ids)


class WordTokenizer:
    """One token per run of non-space characters and one per run of whitespace.

    Ids index an internal vocabulary that grows as text is seen, so ``decode(encode(t)) == t``
    within one instance.
    """

    name = "test-word"

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._pieces: list[str] = []

    @staticmethod
    def _split(text: str) -> list[str]:
        """The maximal runs of ``text`` whose characters all are, or all are not,
        :meth:`str.isspace` (``re``'s ``\\s`` is that same set of code points)."""
        return _RUNS.findall(text)

    def count(self, text: str) -> int:
        """Number of word and whitespace runs in ``text``."""
        return len(self._split(text))

    def encode(self, text: str) -> list[int]:
        """Ids of the runs of ``text``."""
        ids = []
        for piece in self._split(text):
            if piece not in self._ids:
                self._ids[piece] = len(self._pieces)
                self._pieces.append(piece)
            ids.append(self._ids[piece])
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ids produced by this instance's :meth:`encode`."""
        return "".join(self._pieces[i] for i in ids)
