"""Protocols users implement, and the documented type aliases of ctxbudget.

The protocols are :func:`typing.runtime_checkable`, so ``isinstance(obj, Tokenizer)`` checks
that an object has the right methods (not their signatures).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["AsyncMemoryStore", "Content", "MemoryStore", "Summarizer", "Tokenizer"]

#: What a section holds: one text (split into items by the section's ``split`` rule),
#: or a sequence of items (each item a string, kept or trimmed whole).
Content = str | Sequence[str]


@runtime_checkable
class Tokenizer(Protocol):
    """Counts, encodes and decodes text; the measure of every cap.

    ``count(text)`` must equal ``len(encode(text))``, and ``decode(encode(text)) == text``.
    Special-token syntax in text (``<|endoftext|>``) is treated as ordinary text.
    """

    @property
    def name(self) -> str:
        """A stable name, used in reports and as part of count-cache keys."""
        ...

    def count(self, text: str) -> int:
        """Number of tokens in ``text``."""
        ...

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """Text of the token ids ``ids``."""
        ...


@runtime_checkable
class MemoryStore(Protocol):
    """A named source of context: a summary store, a fact store, a chat history...

    ``name`` is the section name (and selects its priority weight in a preset); ``fetch()``
    returns the store's current text, or its items newest last.
    """

    @property
    def name(self) -> str:
        """The section name this store fills."""
        ...

    def fetch(self) -> Content:
        """Return the store's content: one text, or a sequence of items."""
        ...


@runtime_checkable
class AsyncMemoryStore(Protocol):
    """An asynchronous :class:`MemoryStore`; ``ContextBuilder.abuild`` gathers them concurrently."""

    @property
    def name(self) -> str:
        """The section name this store fills."""
        ...

    async def fetch(self) -> Content:
        """Return the store's content: one text, or a sequence of items."""
        ...


@runtime_checkable
class Summarizer(Protocol):
    """Shrinks items (oldest first, e.g. ``"user: ..."`` lines) into one summary."""

    def summarize(self, items: Sequence[str], max_tokens: int) -> str:
        """A summary of ``items`` of at most ``max_tokens`` tokens."""
        ...
