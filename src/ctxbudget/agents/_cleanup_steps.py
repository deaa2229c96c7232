"""The cleanup steps: remove what matches, compress, deduplicate, evict, summarize.

Five step classes make every named step (:data:`ctxbudget.agents._cleanup_registry.STEPS`):
:class:`RemoveStep` (remove_debug, archive_completed_tasks, unload_skills, unload_docs,
archive_old_interactions, archive_completed_agents), :class:`CompressStep`
(compress_inactive, summary_only_docs, compress_large), :class:`DedupeStep`
(remove_duplicates), :class:`EvictStep` (evict_lru_files) and :class:`SummarizeStep`
(summarize_old_interactions).

Times: an item's *age* is ``now - created_at`` (``last_accessed`` when it has no
``created_at``); its *idle time* is ``now - last_accessed`` (``created_at`` when it was never
accessed). A step with an age or idle limit never touches an item with neither time. Plain
``str`` items have no kind, times or status: only steps without those filters touch them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from .._errors import ConfigurationError
from ..memory._item import MemoryItem
from ..memory._reducers import split_duplicates
from ._cleanup import CleanupAction, CleanupContext

__all__ = ["CompressStep", "DedupeStep", "EvictStep", "RemoveStep", "SummarizeStep"]

_NEVER = datetime.min.replace(tzinfo=timezone.utc)


def _age_from(item: str) -> datetime | None:
    return getattr(item, "created_at", None) or getattr(item, "last_accessed", None)


def _idle_from(item: str) -> datetime | None:
    return getattr(item, "last_accessed", None) or getattr(item, "created_at", None)


#: The longest time a ``timedelta`` holds (999,999,999 days), in seconds.
_MAX_SECONDS = timedelta.max.days * 86_400


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigurationError(f"{name} must be a number of seconds >= 0, got {value!r}")
    if not value <= _MAX_SECONDS:  # an int compares exactly, without a float that overflows
        raise ConfigurationError(
            f"{name} must be finite and at most {_MAX_SECONDS} seconds (a timedelta's "
            f"limit), got {value!r}"
        )
    return float(value)


def _fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigurationError(f"{name} must be a number above 0 and at most 1, got {value!r}")
    return float(value)


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{name} must be a whole number >= 0, got {value!r}")
    return value


def _kinds(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = (value,)
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(k, str) and k for k in value)
    ):
        raise ConfigurationError(f"kinds must be a non-empty list of kind names, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class _Filter:
    """Which items a step may touch: kind, status, age and idle time (0: no limit)."""

    name: str
    kinds: Any = None
    status: str | None = None
    older_than_s: float = 0.0
    idle_s: float = 0.0
    #: ``older_than_s`` and ``idle_s`` as timedeltas, set per instance (not dataclass fields)
    _older: ClassVar[timedelta] = timedelta(0)
    _idle: ClassVar[timedelta] = timedelta(0)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "kinds", _kinds(self.kinds))
        set_(self, "older_than_s", _seconds("older_than_s", self.older_than_s))
        set_(self, "idle_s", _seconds("idle_s", self.idle_s))
        # the two limits as timedeltas once, not once per item matched
        set_(self, "_older", timedelta(seconds=self.older_than_s))
        set_(self, "_idle", timedelta(seconds=self.idle_s))
        if self.status is not None and (not isinstance(self.status, str) or not self.status):
            raise ConfigurationError(f"status must be a status name, got {self.status!r}")

    def matches(self, item: str, now: datetime) -> bool:
        if self.kinds is not None and getattr(item, "kind", None) not in self.kinds:
            return False
        if self.status is not None and getattr(item, "status", None) != self.status:
            return False
        if self.older_than_s:
            born = _age_from(item)
            if born is None or now - born <= self._older:
                return False
        if self.idle_s:
            used = _idle_from(item)
            if used is None or now - used <= self._idle:
                return False
        return True


@dataclass(frozen=True)
class RemoveStep(_Filter):
    """Remove (archive) every item that matches: its kind is one of ``kinds``, its status is
    ``status``, its age is over ``older_than_s`` and its idle time over ``idle_s`` seconds
    (each filter only when set). When the run needs only some tokens, the matching items go
    least recently used first (never-used, then oldest access) until the need is met; the
    others stay. With ``only_when_short``, the step runs only in a run that must free tokens
    (``tokens_needed``: a shortfall), never in a maintenance run that frees all it can."""

    only_when_short: bool = False

    def __call__(
        self, items: list[str], context: CleanupContext
    ) -> tuple[list[str], CleanupAction]:
        needed = context.still_needed[0]
        if self.only_when_short and needed is None:
            return items, CleanupAction(self.name, note="runs only to meet a shortfall")
        now = context.now
        matching = [i for i, item in enumerate(items) if self.matches(item, now)]
        if needed is not None:
            matching.sort(key=lambda i: _idle_from(items[i]) or _NEVER)
            chosen, freed = [], 0
            for i in matching:
                if freed >= needed:
                    break
                chosen.append(i)
                freed += context.size(items[i])
            matching = sorted(chosen)
        drop = set(matching)
        keep = [item for i, item in enumerate(items) if i not in drop]
        return keep, context.replaced(self.name, [items[i] for i in matching], ())


@dataclass(frozen=True)
class CompressStep(_Filter):
    """Replace each matching item larger than ``min_tokens`` tokens (and, with ``loaded``, whose
    ``loaded`` is that) by a summary of at most ``ratio`` of its tokens; the summary keeps the
    item's metadata with ``loaded="summary"``. An item whose summary would not be smaller is
    left as it is. Items are summarized largest first, at most ``max_items`` a run (``None``:
    no limit), and the step stops once it has freed what the run still needs."""

    min_tokens: int = 0
    ratio: float = 0.4
    loaded: str | None = None
    max_items: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _count("min_tokens", self.min_tokens)
        if self.max_items is not None:
            _count("max_items", self.max_items)
        object.__setattr__(self, "ratio", _fraction("ratio", self.ratio))
        if self.loaded not in (None, "full", "summary"):
            raise ConfigurationError(f"loaded must be 'full' or 'summary', got {self.loaded!r}")

    def __call__(
        self, items: list[str], context: CleanupContext
    ) -> tuple[list[str], CleanupAction]:
        now, size = context.now, context.size
        candidates = [
            i
            for i, item in enumerate(items)
            if size(item) > self.min_tokens
            and (self.loaded is None or getattr(item, "loaded", None) == self.loaded)
            and self.matches(item, now)
        ]
        # Largest first, so a run that needs only some tokens makes the fewest summaries.
        candidates.sort(key=lambda i: -size(items[i]))
        if self.max_items is not None:
            candidates = candidates[: self.max_items]
        needed = context.still_needed[0]
        out = list(items)
        replaced: dict[int, str] = {}
        freed = 0
        for i in candidates:
            if needed is not None and freed >= needed:
                break
            item = items[i]
            tokens = size(item)
            text = context.summarize([item], int(tokens * self.ratio))
            meta = item.metadata() if isinstance(item, MemoryItem) else {}
            short = MemoryItem(text, **{**meta, "tokens": None, "loaded": "summary"})
            if text and size(short) < tokens:
                out[i] = replaced[i] = short
                freed += tokens - size(short)
        order = sorted(replaced)
        return out, context.replaced(
            self.name, [items[i] for i in order], [replaced[i] for i in order]
        )


@dataclass(frozen=True)
class DedupeStep(_Filter):
    """Remove exact and near duplicates among the matching items, keeping the newest of each
    (``dedupe``'s rule: Jaccard similarity of word sets >= ``threshold``)."""

    threshold: float = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "threshold", _fraction("threshold", self.threshold))

    def __call__(
        self, items: list[str], context: CleanupContext
    ) -> tuple[list[str], CleanupAction]:
        now = context.now
        scope = [item for item in items if self.matches(item, now)]
        _, removed = split_duplicates(scope, self.threshold)
        # Of one object met several times (a text repeated), its oldest copies are the removed.
        pending: dict[int, int] = {}
        for item in removed:
            pending[id(item)] = pending.get(id(item), 0) + 1
        keep: list[str] = []
        for item in items:
            left = pending.get(id(item), 0)
            if left:
                pending[id(item)] = left - 1
            else:
                keep.append(item)
        return keep, context.replaced(self.name, removed, ())


@dataclass(frozen=True)
class EvictStep(_Filter):
    """While the component's utilization (its tokens over ``capacity``) is above
    ``high_water``, evict matching items least recently used first (never-used ones first)."""

    high_water: float = 0.8

    def __post_init__(self) -> None:
        super().__post_init__()
        value = self.high_water
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigurationError(f"high_water must be a number from 0 to 1, got {value!r}")
        object.__setattr__(self, "high_water", float(value))

    def __call__(
        self, items: list[str], context: CleanupContext
    ) -> tuple[list[str], CleanupAction]:
        if context.capacity is None:
            return items, CleanupAction(self.name, note="no capacity given")
        limit = self.high_water * context.capacity
        total = context.total(items)
        if total <= limit:
            return items, CleanupAction(self.name, note="utilization at or below the mark")
        now = context.now
        order = sorted(
            (i for i, item in enumerate(items) if self.matches(item, now)),
            key=lambda i: getattr(items[i], "last_accessed", None) or _NEVER,
        )
        evicted: set[int] = set()
        for i in order:
            if total <= limit:
                break
            evicted.add(i)
            total -= context.size(items[i])
        gone = [item for i, item in enumerate(items) if i in evicted]
        keep = [item for i, item in enumerate(items) if i not in evicted]
        return keep, context.replaced(self.name, gone, ())


@dataclass(frozen=True)
class SummarizeStep(_Filter):
    """Replace the matching items except the newest ``keep_recent`` of them (kept verbatim)
    by one ``summary:`` item of at most ``max_tokens`` tokens, at the place of the first one.
    The summary has kind ``summary`` and the newest ``created_at`` of what it covers; give
    ``summary`` in ``kinds`` and the next run folds the old summary into the new one.

    At most ``max_items`` items (the oldest) are summarized per run, so a run's work is
    bounded however far behind the buffer is; the next run folds the next ones, with the
    summary, into a new summary. When the run needs only some tokens, only as many of the
    oldest as free them (their tokens less ``max_tokens``) are folded, at least two."""

    keep_recent: int = 10
    max_tokens: int = 500
    max_items: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        _count("keep_recent", self.keep_recent)
        _count("max_tokens", self.max_tokens)
        if _count("max_items", self.max_items) < 2:
            raise ConfigurationError(f"max_items must be at least 2, got {self.max_items!r}")

    def __call__(
        self, items: list[str], context: CleanupContext
    ) -> tuple[list[str], CleanupAction]:
        now = context.now
        kinds = self.kinds
        scope = [
            i
            for i, item in enumerate(items)
            if kinds is None or getattr(item, "kind", None) in kinds
        ]
        old = scope[: max(0, len(scope) - self.keep_recent)]
        chosen = [i for i in old if self.matches(items[i], now)][: self.max_items]
        needed = context.still_needed[0]
        if needed is not None:
            total = 0
            for n, i in enumerate(chosen, 1):
                total += context.size(items[i])
                if n >= 2 and total - self.max_tokens >= needed:
                    chosen = chosen[:n]
                    break
        if len(chosen) < 2:
            return items, CleanupAction(self.name, note="fewer than 2 old items")
        covered = [items[i] for i in chosen]
        text = context.summarize(covered, self.max_tokens)
        times = [t for t in map(_age_from, covered) if t is not None]
        summary = MemoryItem(
            f"summary: {text}", kind="summary", created_at=max(times) if times else None
        )
        if not text or context.size(summary) >= context.total(covered):
            return items, CleanupAction(self.name, note="the summary would not be smaller")
        drop = set(chosen)
        out = [
            summary if i == chosen[0] else item
            for i, item in enumerate(items)
            if i == chosen[0] or i not in drop
        ]
        return out, context.replaced(self.name, covered, (summary,))
