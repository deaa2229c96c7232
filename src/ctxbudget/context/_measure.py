"""Measurement: counting a section's items lazily from its kept end.

A :class:`MeasuredSection` counts items nearest the kept end first and only as far as it is asked
to, so a section far larger than the cap is never split or counted in full. Each item costs its
own tokens plus the tokens of the gap (newlines) that joins it to the previously kept item.

One item far larger than the cap is not counted in full either, when the tokenizer declares a
lower bound on counts (:func:`token_floor`): an item whose bound already exceeds the build's
cap can never be kept whole, so the bound is recorded instead of its count, and the
measurement says which costs are bounds (:meth:`MeasuredSection.is_lower_bound`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from .._errors import SectionError
from ..typing import Tokenizer
from ._items import gap_after, item_spans
from ._options import Keep, Split

__all__ = ["Cut", "Floor", "MeasuredSection", "MeasurementCache", "token_floor"]

_SEQUENCE_GAP = "\n"

#: ``floor(text, above)``: a number of tokens that ``text`` never has fewer of, which need be
#: tight only when it can exceed ``above`` tokens.
Floor = Callable[[str, int], int]


def token_floor(tokenizer: Tokenizer) -> Floor | None:
    """The lower bound on counts that ``tokenizer`` declares (see :class:`~ctxbudget.Tokenizer`).

    Its ``count_lower_bound(text, above)`` when it has one; else, from its
    ``max_token_bytes`` (the UTF-8 length of its longest token), ``ceil(len(text) /
    max_token_bytes)``: no token stands for more bytes, and every character is at least one
    byte. ``None`` when it declares neither: every item is then counted exactly.
    """
    bound = getattr(tokenizer, "count_lower_bound", None)
    if callable(bound):
        return cast(Floor, bound)
    longest = getattr(tokenizer, "max_token_bytes", None)
    if isinstance(longest, bool) or not isinstance(longest, int) or longest < 1:
        return None
    return lambda text, above: -(-len(text) // longest)


@dataclass(frozen=True)
class Cut:
    """An item too large for its section's allocation, cut at token level.

    Attributes:
        kept: the part kept (a prefix or suffix of the item, whole characters only).
        removed: the rest of the item.
        tokens: tokens of the kept part with its marker.
        recut: the same item cut again for a smaller room, in tokens (``None`` when not even
            one character fits then); ``None`` when the cut cannot be remade.
    """

    kept: str
    removed: str
    tokens: int
    recut: Callable[[int], Cut | None] | None = field(default=None, compare=False, repr=False)


class MeasuredSection:
    """Lazy measurement of one section's items, and the text of its first ``k`` items.

    Costs are exact, except that of an item whose lower bound (from ``floor``) exceeds
    ``ceiling``: that item can never be kept whole in a build capped at ``ceiling`` tokens, so
    its bound is recorded instead of counting it (:meth:`is_lower_bound`, :attr:`exact`).

    Args:
        name: the section name (for errors).
        content: its text, or its items oldest first.
        split: how text splits into items.
        keep: which end survives trimming.
        count: counts tokens of a string (cached by the caller).
        floor: a lower bound on counts (:func:`token_floor`), or ``None`` to count every item.
        ceiling: the build's cap in tokens, or ``None`` (no cap: every item is counted).
    """

    def __init__(
        self,
        name: str,
        content: str | Sequence[str],
        *,
        split: Split,
        keep: Keep,
        count: Callable[[str], int],
        floor: Floor | None = None,
        ceiling: int | None = None,
    ) -> None:
        self.name = name
        self.content = content
        self.keep = keep
        self.split = split
        self._count = count
        self._floor = floor
        self.ceiling = ceiling
        self._bounds: dict[int, int] = {}  # item position -> its cost, a lower bound
        self._reverse = keep == "end"
        self.spans: list[tuple[int, int]] = []  # text content: item spans, kept end first
        self.indices: list[int] = []  # sequence content: item indices, kept end first
        self.cumulative: list[int] = [0]  # tokens of the first k items, gaps included
        self.complete = False
        if isinstance(content, str):
            self._spans = item_spans(content, split, self._reverse)
        else:
            order = range(len(content) - 1, -1, -1) if self._reverse else range(len(content))
            self._index_iter = iter(order)

    @property
    def measured(self) -> int:
        """Items measured so far."""
        return len(self.cumulative) - 1

    @property
    def total(self) -> int:
        """Tokens of every item measured so far, gaps included (a lower bound unless
        :attr:`exact`)."""
        return self.cumulative[-1]

    @property
    def exact(self) -> bool:
        """Whether every cost measured so far is an exact count."""
        return not self._bounds

    def is_lower_bound(self, k: int) -> bool:
        """Whether the ``k``-th item's cost is only a lower bound (it exceeds :attr:`ceiling`)."""
        return k in self._bounds

    def reuse(self, ceiling: int | None) -> bool:
        """Prepare this measurement for a build capped at ``ceiling`` tokens (``None``: no cap).

        ``False`` when a recorded bound does not exceed the new ceiling (the item might then
        fit whole, so it must be counted): measure again from scratch.
        """
        if self._bounds and (ceiling is None or min(self._bounds.values()) <= ceiling):
            return False
        self.ceiling = ceiling
        return True

    def item(self, k: int) -> str:
        """Text of the ``k``-th measured item (0 = nearest the kept end)."""
        if isinstance(self.content, str):
            start, end = self.spans[k]
            return self.content[start:end]
        return self.content[self.indices[k]]

    def _next(self) -> bool:
        """Measure one more item, together with the gap that follows it in the document.

        BPE merges a line's last punctuation with the newline after it (``".\n"`` is one
        o200k token), so an item is counted with its trailing gap rather than apart from it.
        Nearest the kept end, the newest item (``keep="end"``) has no gap after it in the body;
        with ``keep="start"`` the last kept item's gap is charged but not rendered, an
        over-estimate of at most one gap.
        """
        content = self.content
        if isinstance(content, str):
            span = next(self._spans, None)
            if span is None:
                return False
            if self._reverse:
                gap = content[span[1] : self.spans[-1][0]] if self.spans else ""
            else:
                gap = gap_after(content, span[1])
            self.spans.append(span)
            text = content[span[0] : span[1]]
        else:
            while True:
                index = next(self._index_iter, None)
                if index is None:
                    return False
                text = content[index]
                if not isinstance(text, str):
                    raise SectionError(
                        f"item {index} must be a str, got {type(text).__name__}",
                        section=self.name,
                    )
                if text:
                    break
            if self._reverse:
                gap = _SEQUENCE_GAP if self.indices else ""
            else:
                gap = _SEQUENCE_GAP if index < len(content) - 1 else ""
            self.indices.append(index)
        self.cumulative.append(self.cumulative[-1] + self._cost(text + gap))
        return True

    def _cost(self, text: str) -> int:
        """Tokens of the item being measured, or a lower bound above the ceiling."""
        ceiling, floor = self.ceiling, self._floor
        # Only texts longer than the ceiling are bounded: the huge items this is for, cheaply.
        if floor is not None and ceiling is not None and len(text) > ceiling:
            bound = floor(text, ceiling)
            if bound > ceiling:
                self._bounds[self.measured] = bound
                return bound
        return self._count(text)

    def measure_until(self, limit: float) -> None:
        """Measure items until their total exceeds ``limit`` tokens or none are left."""
        while not self.complete and self.cumulative[-1] <= limit:
            if not self._next():
                self.complete = True

    def measure_items(self, k: int) -> bool:
        """Make sure ``k`` items are measured; ``False`` when the section has fewer."""
        while self.measured < k and not self.complete:
            if not self._next():
                self.complete = True
        return self.measured >= k

    def measure_all(self) -> None:
        """Measure every item."""
        self.measure_until(float("inf"))

    def fitting(self, room: int) -> int:
        """How many items, from the kept end, fit in ``room`` tokens (measured items only; an
        item whose cost is a lower bound never fits)."""
        k = 0
        cumulative = self.cumulative
        while k + 1 < len(cumulative) and cumulative[k + 1] <= room and k not in self._bounds:
            k += 1
        return k

    def body(self, k: int, cut: Cut | None = None, marker: str = "") -> str:
        """Text of the first ``k`` items in document order, or of the cut item."""
        if cut is not None:
            return marker + cut.kept if self._reverse else cut.kept + marker
        if k == 0:
            return ""
        content = self.content
        if isinstance(content, str):
            first, last = self.spans[0], self.spans[k - 1]
            if self._reverse:
                return content[last[0] : first[1]]
            return content[first[0] : last[1]]
        indices = sorted(self.indices[:k])
        return _SEQUENCE_GAP.join(content[i] for i in indices)

    def removed(self, k: int, cut: Cut | None = None) -> list[str]:
        """The items not kept when the first ``k`` are kept, in document order, whole.

        With a cut, the removed part of the cut item comes first (nearest the cut) in its place.
        """
        content = self.content
        kept_items = 1 if cut is not None else k
        if isinstance(content, str):
            if kept_items == 0:
                rest = content
            else:
                edge = self.spans[kept_items - 1]
                rest = content[: edge[0]] if self._reverse else content[edge[1] :]
            items = [rest[s:e] for s, e in item_spans(rest, self.split, reverse=False)]
        elif kept_items == 0:
            items = [t for t in content if t]
        else:
            edge_index = self.indices[kept_items - 1]
            part = content[:edge_index] if self._reverse else content[edge_index + 1 :]
            items = [t for t in part if t]
        if cut is not None and cut.removed:
            if self._reverse:
                items.append(cut.removed)
            else:
                items.insert(0, cut.removed)
        return items


class MeasurementCache:
    """Lazy measurements of text sections kept between builds, reused when a section's text is
    the very same ``str`` object again (strings are immutable). A build checks a measurement
    out, so two concurrent builds never share one. Bounded, least recently used evicted.

    Args:
        maxsize: most measurements kept.
        floor: the lower bound on counts of the builder's tokenizer (:func:`token_floor`).
    """

    def __init__(self, maxsize: int, floor: Floor | None = None) -> None:
        self.maxsize = maxsize
        self.floor = floor
        self._data: OrderedDict[tuple[str, int, str, str], MeasuredSection] = OrderedDict()
        self._lock = threading.Lock()

    def checkout(
        self,
        name: str,
        content: str | Sequence[str],
        *,
        split: Split,
        keep: Keep,
        count: Callable[[str], int],
        ceiling: int | None,
    ) -> MeasuredSection:
        """The measurement of this very text, taken out of the cache and prepared for a build
        capped at ``ceiling`` tokens (:meth:`MeasuredSection.reuse`), else a new one."""
        measured = None
        if isinstance(content, str):  # a sequence may have changed in place since last time
            with self._lock:
                measured = self._data.pop((name, id(content), split, keep), None)
        # The entry holds the str itself, so its id cannot have been reused meanwhile.
        if measured is not None and measured.content is content and measured.reuse(ceiling):
            return measured
        return MeasuredSection(
            name, content, split=split, keep=keep, count=count, floor=self.floor, ceiling=ceiling
        )

    def checkin(self, measurements: Iterable[MeasuredSection | None]) -> None:
        """Keep the measurements of text sections for the next build."""
        with self._lock:
            for m in measurements:
                if m is not None and isinstance(m.content, str):
                    self._data[(m.name, id(m.content), m.split, m.keep)] = m
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
