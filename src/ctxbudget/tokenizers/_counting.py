"""Exact token counts, each piece of text counted once: a bounded, thread-safe LRU cache."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from .._errors import TokenizerError
from ..typing import EncodingTokenizer, Tokenizer

__all__ = ["CachedTokenizer", "CountCache"]


def adds_up_before(char: str) -> bool:
    """Whether counts add up across a boundary right after a newline and before ``char`` (see
    ``TiktokenTokenizer.newline_additive``): ``char`` is neither whitespace nor "/".
    ``str.isspace`` covers every Unicode White_Space character (and a few more), so no false
    boundary is found."""
    return char != "/" and not char.isspace()


def _chunks(text: str, sep: str) -> list[str]:
    """Split ``text`` after each ``sep`` that is followed by a boundary character.

    Boundaries where counts add up: right after a newline, before a character for which
    :func:`adds_up_before` holds (its test is written out here: this runs per line of every
    assembled text). ``sep`` is found as ``str.split`` finds it (left to right, without
    overlaps); the chunks join back to ``text``.
    """
    chunks: list[str] = []
    find, width, end = text.find, len(sep), len(text)
    start = 0
    at = find(sep)
    while at >= 0:
        after = at + width
        if after < end:
            char = text[after]
            if char != "/" and not char.isspace():
                chunks.append(text[start:after])
                start = after
        at = find(sep, after)
    chunks.append(text[start:])
    return chunks


class CountCache:
    """Token counts keyed by ``(tokenizer name, text)``, least recently used evicted first.

    A builder keeps one across builds, so an incremental build (one message appended to a long
    history) counts only the new text. Safe to share between threads.

    Args:
        maxsize: most entries kept (default 200,000: tens of MB for short lines).

    Raises:
        ValueError: ``maxsize`` is not a whole number >= 1.
    """

    def __init__(self, maxsize: int = 200_000) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be a whole number >= 1, got {maxsize!r}")
        self.maxsize = maxsize
        self._data: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _get(self, key: tuple[str, str]) -> int | None:
        with self._lock:
            n = self._data.get(key)
            if n is not None:
                self._data.move_to_end(key)
                self.hits += 1
            return n

    def _put(self, key: tuple[str, str], n: int) -> None:
        with self._lock:
            self.misses += 1
            self._data[key] = n
            if len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def count(self, tokenizer: Tokenizer, text: str) -> int:
        """Tokens of ``text`` under ``tokenizer``, from the cache when it was counted before."""
        key = (tokenizer.name, text)
        n = self._get(key)
        if n is None:
            n = tokenizer.count(text)
            self._put(key, n)
        return n

    def count_piece(self, tokenizer: Tokenizer, text: str) -> int:
        """Exact tokens of a piece of a longer text (an item with the gap after it).

        A piece with lines inside it is counted as :meth:`count_text` counts (by blocks and
        lines, for tokenizers that declare ``newline_additive``), so that counting the text
        assembled from such pieces finds every line again instead of encoding it twice;
        any other piece is counted whole.
        """
        if "\n" in text.rstrip("\n") and getattr(tokenizer, "newline_additive", False):
            return self.count_text(tokenizer, text)
        return self.count(tokenizer, text)

    def count_text(self, tokenizer: Tokenizer, text: str) -> int:
        """Exact tokens of a long text (an assembled context), reusing cached pieces.

        For tokenizers that declare ``newline_additive`` (o200k_base, cl100k_base), the text is
        split into blocks at blank lines and blocks into lines, at boundaries where counts
        provably add up; each block and line is looked up, and only unseen ones are encoded.
        Other tokenizers count the whole text, uncached.
        """
        if not getattr(tokenizer, "newline_additive", False):
            return tokenizer.count(text)
        name = tokenizer.name
        total = 0
        blocks = _chunks(text, "\n\n")
        for block, cached in zip(blocks, self._lookup(name, blocks), strict=True):
            if cached is not None:
                total += cached
                continue
            lines = [line for line in _chunks(block, "\n") if line]
            n = 0
            for line, known in zip(lines, self._lookup(name, lines), strict=True):
                if known is None:
                    known = tokenizer.count(line)  # noqa: PLW2901
                    self._put((name, line), known)
                n += known
            self._put((name, block), n)
            total += n
        return total

    def _lookup(self, name: str, texts: list[str]) -> list[int | None]:
        """Cached counts of ``texts`` (``None`` where not cached), under one lock."""
        data = self._data
        out: list[int | None] = []
        with self._lock:
            for text in texts:
                key = (name, text)
                n = data.get(key)
                if n is not None:
                    data.move_to_end(key)
                out.append(n)
            self.hits += len(texts) - out.count(None)
        return out

    def clear(self) -> None:
        """Forget every count and reset the hit/miss statistics."""
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"CountCache(maxsize={self.maxsize}, size={len(self)}, hits={self.hits})"


class CachedTokenizer:
    """A tokenizer whose counts go through a :class:`CountCache`: text counted once is never
    counted again (a conversation re-measured every turn costs only its new messages).

    Same ``name``, ``encode`` and ``decode`` as the wrapped tokenizer, so cache keys and
    results are unchanged; ``encode``/``decode`` raise :class:`~ctxbudget.TokenizerError` when
    the wrapped tokenizer is count-only (``ctxbudget.tokenizers._cutting.codec_of`` tells).

    Args:
        tokenizer: the tokenizer to wrap.
        cache: the cache to use (default a new one).
    """

    def __init__(self, tokenizer: Tokenizer, cache: CountCache | None = None) -> None:
        self.inner = tokenizer
        self.cache = cache if cache is not None else CountCache()
        self.newline_additive = bool(getattr(tokenizer, "newline_additive", False))
        self.approximate = bool(getattr(tokenizer, "approximate", False))

    @property
    def name(self) -> str:
        """The wrapped tokenizer's name."""
        return self.inner.name

    def count(self, text: str) -> int:
        """Tokens of ``text``, from the cache when counted before."""
        return self.cache.count(self.inner, text)

    def encode(self, text: str) -> list[int]:
        """The wrapped tokenizer's ids of ``text``.

        Raises:
            TokenizerError: the wrapped tokenizer is count-only.
        """
        return self._codec().encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        """The wrapped tokenizer's text of ``ids``.

        Raises:
            TokenizerError: the wrapped tokenizer is count-only.
        """
        return self._codec().decode(ids)

    def _codec(self) -> EncodingTokenizer:
        inner = self.inner
        if not isinstance(inner, EncodingTokenizer):
            raise TokenizerError(
                f"{inner.name!r} only counts tokens: it has no encode() or decode()",
                spec=inner.name,
            )
        return inner
