"""Exact token counts, each piece of text counted once: a bounded, thread-safe LRU cache."""

from __future__ import annotations

import threading
from collections import OrderedDict

from .typing import Tokenizer

__all__ = ["CountCache"]


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

    def count(self, tokenizer: Tokenizer, text: str) -> int:
        """Tokens of ``text`` under ``tokenizer``, from the cache when it was counted before."""
        key = (tokenizer.name, text)
        with self._lock:
            n = self._data.get(key)
            if n is not None:
                self._data.move_to_end(key)
                self.hits += 1
                return n
        n = tokenizer.count(text)
        with self._lock:
            self.misses += 1
            self._data[key] = n
            if len(self._data) > self.maxsize:
                self._data.popitem(last=False)
        return n

    def clear(self) -> None:
        """Forget every count and reset the hit/miss statistics."""
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"CountCache(maxsize={self.maxsize}, size={len(self)}, hits={self.hits})"
