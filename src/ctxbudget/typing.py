"""Protocols users implement, and the documented type aliases of ctxbudget.

The protocols are :func:`typing.runtime_checkable`, so ``isinstance(obj, Tokenizer)`` checks
that an object has the right methods (not their signatures): ``name`` and ``count`` for a
:class:`Tokenizer`, and also ``encode`` and ``decode`` for an :class:`EncodingTokenizer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .memory import SummaryState

__all__ = [
    "AsyncMemoryStore",
    "Content",
    "EncodingTokenizer",
    "MemoryStore",
    "MergingSummarizer",
    "Summarizer",
    "Tokenizer",
]

#: What a section holds: one text (split into items by the section's ``split`` rule),
#: or a sequence of items (each item a string, kept or trimmed whole).
Content = str | Sequence[str]


@runtime_checkable
class Tokenizer(Protocol):
    """Counts text; the measure of every cap. Only ``name`` and ``count`` are required.

    ``name`` must be stable and must differ between tokenizers whose counts differ: it keys the
    count cache. Special-token syntax in text (``<|endoftext|>``) is treated as ordinary text.

    Optional, for cutting an item larger than its allocation at token level: ``encode(text) ->
    list[int]`` and ``decode(ids) -> str`` (see :class:`EncodingTokenizer`); when both are
    present, ``count(text)`` must equal ``len(encode(text))`` and ``decode(encode(text)) ==
    text``. A tokenizer without them is *count-only* (a provider's count-tokens API, a plain
    ``str -> int`` callable wrapped by ``get_tokenizer``): everything still works, and an
    oversized item is cut by bisection on ``count`` over a window at its kept end, still exact.

    Optional, ``approximate: bool``: ``True`` when counts only estimate the model's own (the
    ``approx`` tokenizer, the Claude and Gemini proxies); every report built with such a
    tokenizer says so (``BuiltContext.approximate``).

    Optional, for huge items (a 10 MB line with no spaces, BPE's slowest case): a tokenizer may
    declare ``max_token_bytes: int``, the UTF-8 length of its longest token. No token then
    stands for more bytes and every character is at least one byte, so ``count(text) >=
    ceil(len(text) / max_token_bytes)``; a build never counts in full an item that this bound
    shows larger than its cap (the bound is recorded, and the section's report says
    ``demand_exact=False``). A tokenizer may also define ``count_lower_bound(text: str,
    above: int) -> int``, any number of tokens that ``count(text)`` is never below (it need be
    tight only when it can exceed ``above``); it is used instead when present. Declare neither
    unless the bound holds for every text: not for a tokenizer that normalizes text first
    (Hugging Face normalizers may drop or fold characters). Without them, every item is counted
    exactly, as it always was. ``TiktokenTokenizer`` and the proxies declare them;
    ``HFTokenizer``, ``ApproxTokenizer`` (whose counts cost nothing anyway) and
    ``CachedTokenizer`` declare neither.
    """

    @property
    def name(self) -> str:
        """A stable name, used in reports and as part of count-cache keys."""
        ...

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` (a whole number >= 0)."""
        ...


@runtime_checkable
class EncodingTokenizer(Tokenizer, Protocol):
    """A :class:`Tokenizer` that also turns text into token ids and back.

    ``count(text) == len(encode(text))`` and ``decode(encode(text)) == text``. The builder uses
    the ids to place a cut quickly; without them it bisects on counts.
    """

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


@runtime_checkable
class MergingSummarizer(Summarizer, Protocol):
    """A :class:`Summarizer` that also folds new items into a structured running summary
    (:class:`~ctxbudget.memory.SummaryState`) without re-summarizing the old one as text.
    :func:`~ctxbudget.memory.merge_summary` uses ``merge`` when a summarizer has it."""

    def merge(self, state: SummaryState, items: Sequence[str], max_tokens: int) -> SummaryState:
        """``state`` updated with ``items``; its ``render()`` has at most ``max_tokens`` tokens."""
        ...
