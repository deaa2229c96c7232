"""Per-component cleanup: named, ordered pipelines of steps that free tokens without losing
anything.

A :class:`CleanupPipeline` runs its steps (:mod:`ctxbudget.agents._cleanup_steps`) in order over
a component's items (oldest first, plain ``str`` or :class:`~ctxbudget.memory.MemoryItem`).
Each step removes or replaces items; the items a step removes or replaces go to the
:class:`~ctxbudget.memory.Archive` as one block, one JSON line (text and metadata) per item, so
:func:`archived_items` gives every one of them back.
The run returns the items left and a :class:`CleanupResult`: tokens freed, duration, and one
:class:`CleanupAction` per step that ran.

An item's size is ``item.tokens`` when the store gave it, else the tokenizer's count of its
text (counted once per run). Freed tokens are ``sum(size(before)) - sum(size(after))``, the sum
of the actions' ``tokens_freed``; no step ever replaces an item by a larger one.

The four reference pipelines (:func:`cleanup_pipeline`) follow the Token Budget Management
reference as quoted in issue 14; ``docs/cleanup.md`` lists every step and default.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from .._errors import ConfigurationError
from ..memory._archive import Archive, ArchivedBlock
from ..memory._item import MemoryItem
from ..typing import Summarizer, Tokenizer

if TYPE_CHECKING:
    from ..memory._summarize import ExtractiveSummarizer

__all__ = [
    "CleanupAction",
    "CleanupContext",
    "CleanupPipeline",
    "CleanupResult",
    "CleanupStep",
    "archived_items",
]


#: One encoder for every record line (``json.dumps`` with options builds a new one per call).
_RECORD_JSON = json.JSONEncoder(ensure_ascii=False)


@dataclass(frozen=True)
class CleanupAction:
    """What one step did.

    Attributes:
        step: the step's name (``"remove_debug"``...).
        removed: how many items it removed or replaced.
        added: how many items it added (summaries that replace what they cover).
        tokens_freed: tokens of the removed items less those of the added ones (>= 0).
        archived: the archive id of the block holding the removed or replaced items (one
            block per action, its content one record per item:
            :meth:`CleanupContext.archive_items`, read back by :func:`archived_items`), or
            ``()`` when nothing was removed.
        note: why nothing happened, when nothing did (``"no capacity given"``), else ``""``.
        duration_s: the step's wall time, in seconds (set by the pipeline).
    """

    step: str
    removed: int = 0
    added: int = 0
    tokens_freed: int = 0
    archived: tuple[str, ...] = ()
    note: str = ""
    duration_s: float = 0.0


@dataclass(frozen=True)
class CleanupResult:
    """One cleanup run of one component.

    Attributes:
        component: the component cleaned (``"working_memory"``...).
        pipeline: the pipeline's name.
        tokens_before, tokens_after: the items' total size before and after, in tokens.
        tokens_freed: ``tokens_before - tokens_after``.
        duration_s: wall time of the run, in seconds.
        actions: one per step that ran, in order (steps after the need was met do not run).
        archived: every archive id of the run, in action order.
        items_after: how many items are left.

    ``int(result)`` is ``tokens_freed``, so a result can stand where a callable returning the
    tokens freed is expected (``BudgetManager(cleanup=...)``).
    """

    component: str
    pipeline: str
    tokens_before: int
    tokens_after: int
    tokens_freed: int
    duration_s: float
    actions: tuple[CleanupAction, ...]
    archived: tuple[str, ...]
    items_after: int

    def __int__(self) -> int:
        return self.tokens_freed


def _plain_extractive(summarizer: Summarizer) -> ExtractiveSummarizer | None:
    """``summarizer`` if it summarizes as :class:`ExtractiveSummarizer` does (its summarize not
    replaced by a subclass or on the instance), else ``None``. Such a summarizer exists only
    once its module is loaded, so nothing is imported here."""
    module = sys.modules.get("ctxbudget.memory._summarize")
    method = getattr(summarizer, "summarize", None)
    if (
        module is None
        or getattr(method, "__func__", None) is not module.ExtractiveSummarizer.summarize
    ):
        return None
    return cast("ExtractiveSummarizer", summarizer)


@dataclass(frozen=True)
class CleanupContext:
    """What a step sees besides the items: the component, the clock, sizes, the archive.

    Attributes:
        component: the component's name; the archive ``source`` of what is removed.
        now: the time the run treats as now (timezone-aware).
        tokenizer: counts text that has no ``tokens`` of its own.
        archive: where removed and replaced items go.
        summarizers: the summarizer for compressed texts and summaries, if given or made
            (:meth:`summarize` makes the default one on first use).
        capacity: the component's capacity in tokens, or ``None`` (then steps that need it,
            ``evict_lru_files``, do nothing and say so).
        sizes: each item's size memo, by text (filled by :meth:`size`).
        still_needed: tokens the run still has to free, or ``None`` (free all it can); the
            pipeline updates it before each step, and a costly step (compression) may stop
            once its own freed tokens reach it.
    """

    component: str
    now: datetime
    tokenizer: Tokenizer
    archive: Archive
    summarizers: list[Summarizer]
    capacity: int | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    still_needed: list[int | None] = field(default_factory=lambda: [None])

    def size(self, item: str) -> int:
        """``item.tokens`` if it has one, else its text's count (memoized), in tokens."""
        own = getattr(item, "tokens", None)
        if own is not None:
            return int(own)
        known = self.sizes.get(item)
        if known is None:
            known = self.sizes[item] = self.tokenizer.count(item)
        return known

    def total(self, items: Sequence[str]) -> int:
        """The summed sizes of ``items``, in tokens."""
        size = self.size
        return sum(size(item) for item in items)

    def summarize(self, items: Sequence[str], max_tokens: int) -> str:
        """The summarizer's summary of ``items`` in at most ``max_tokens`` tokens (the default
        extractive summarizer is made, and its module imported, on first use only). The
        extractive summarizer's own exact count of its result, under this context's tokenizer,
        becomes the result's size, so the step that stores it does not count it again."""
        if not self.summarizers:
            from ..memory._summarize import ExtractiveSummarizer

            self.summarizers.append(ExtractiveSummarizer(self.tokenizer))
        summarizer = self.summarizers[0]
        extractive = _plain_extractive(summarizer)
        if extractive is not None and extractive.tokenizer.name == self.tokenizer.name:
            text, tokens = extractive._summarize_counted(items, max_tokens)
            self.sizes[text] = tokens
            return text
        return summarizer.summarize(items, max_tokens)

    def archive_items(self, step: str, items: Sequence[str]) -> str:
        """Archive ``items`` as one block; its id.

        The block's content is JSON Lines text, one line per item in order: its
        :meth:`~ctxbudget.memory.MemoryItem.record` with times in ISO 8601 (a plain ``str`` is
        ``{"text": ...}``); :func:`archived_items` reads it back. One text, not a list, so the
        archive serializes it in one pass. Its tokens are the items' summed sizes, its summary
        names the step and the count, its source is the component, and its start and end span
        the items' known times.

        Raises:
            ArchiveError: the archive's store failed.
        """
        dumps = _RECORD_JSON.encode
        lines: list[str] = []
        times: list[datetime] = []
        for item in items:
            if isinstance(item, MemoryItem):
                record = item.record()
                for key in ("created_at", "last_accessed"):
                    when = record.get(key)
                    if when is not None:
                        times.append(when)
                        record[key] = when.isoformat()
            else:
                record = {"text": str(item)}
            lines.append(dumps(record))
        return self.archive.put(
            "\n".join(lines),
            tokens=self.total(items),
            summary=f"{step}: {len(items)} item{'s' if len(items) != 1 else ''}",
            source=self.component,
            start=min(times) if times else None,
            end=max(times) if times else None,
        )

    def replaced(
        self, step: str, removed: Sequence[str], added: Sequence[str], note: str = ""
    ) -> CleanupAction:
        """The action of a step that removed (and archived) ``removed`` and added ``added``."""
        if not removed:
            return CleanupAction(step, note=note)
        freed = self.total(removed) - self.total(added)
        return CleanupAction(
            step, len(removed), len(added), freed, (self.archive_items(step, removed),), note
        )


@runtime_checkable
class CleanupStep(Protocol):
    """One cleanup step: ``step(items, context) -> (items left, action)``.

    ``items`` are oldest first; the step returns a new list and archives, through
    :meth:`CleanupContext.replaced`, every item it removes or replaces. It must never add more
    tokens than it removes.
    """

    @property
    def name(self) -> str:
        """The step's name, reported in its action."""
        ...

    def __call__(
        self, items: list[str], context: CleanupContext
    ) -> tuple[list[str], CleanupAction]:
        """The items left and what was done."""
        ...


class CleanupPipeline:
    """A named, ordered list of cleanup steps for one component.

    Args:
        name: the pipeline's name (a reference pipeline is named after its component).
        steps: the steps, run in this order.

    Raises:
        ConfigurationError: ``name`` is empty, or a step is not a :class:`CleanupStep`.
    """

    def __init__(self, name: str, steps: Sequence[CleanupStep]) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"a cleanup pipeline needs a non-empty name, got {name!r}")
        for step in steps:
            if not isinstance(step, CleanupStep):
                raise ConfigurationError(
                    f"pipeline {name!r}: {step!r} is not a cleanup step (a callable with a name)"
                )
        self.name = name
        self.steps: tuple[CleanupStep, ...] = tuple(steps)

    def __repr__(self) -> str:
        return f"CleanupPipeline({self.name!r}, [{', '.join(s.name for s in self.steps)}])"

    def run(
        self,
        items: Sequence[str],
        *,
        tokenizer: Tokenizer,
        archive: Archive,
        now: datetime | None = None,
        tokens_needed: int | None = None,
        capacity: int | None = None,
        summarizer: Summarizer | None = None,
        component: str | None = None,
        sizes: dict[str, int] | None = None,
    ) -> tuple[list[str], CleanupResult]:
        """Run the steps over ``items`` (oldest first).

        Args:
            items: the component's items, ``str`` or :class:`~ctxbudget.memory.MemoryItem`.
            tokenizer: counts items without a ``tokens`` of their own.
            archive: receives every removed or replaced item.
            now: the current time, timezone-aware (default: ``datetime.now(timezone.utc)``).
            tokens_needed: stop before the next step once this many tokens are freed
                (``None``: run every step).
            capacity: the component's capacity in tokens (for ``evict_lru_files``).
            summarizer: for compression and summaries (default: the offline
                :class:`~ctxbudget.memory.ExtractiveSummarizer` on ``tokenizer``).
            component: the archive source and the result's component (default: ``name``).
            sizes: a memo of text -> tokens kept across runs (filled in place).

        Returns:
            ``(items left, result)``.

        Raises:
            ConfigurationError: ``now`` is naive, or ``tokens_needed``/``capacity`` is not a
                whole number >= 0.
            ArchiveError: the archive failed (items are unchanged: the caller keeps its own).
        """
        start = time.perf_counter()
        when = now if now is not None else datetime.now(timezone.utc)
        if not isinstance(when, datetime) or when.utcoffset() is None:
            raise ConfigurationError(f"now must be a timezone-aware datetime, got {now!r}")
        for label, value in (("tokens_needed", tokens_needed), ("capacity", capacity)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ConfigurationError(f"{label} must be a whole number >= 0, got {value!r}")
        context = CleanupContext(
            component or self.name,
            when,
            tokenizer,
            archive,
            [summarizer] if summarizer is not None else [],
            capacity,
            sizes if sizes is not None else {},
        )
        current = list(items)
        before = context.total(current)
        actions: list[CleanupAction] = []
        freed = 0
        for step in self.steps:
            if tokens_needed is not None and freed >= tokens_needed:
                break
            context.still_needed[0] = None if tokens_needed is None else tokens_needed - freed
            begin = time.perf_counter()
            current, action = step(current, context)
            action = dataclasses.replace(action, duration_s=time.perf_counter() - begin)
            actions.append(action)
            freed += action.tokens_freed
        after = context.total(current)
        result = CleanupResult(
            component=context.component,
            pipeline=self.name,
            tokens_before=before,
            tokens_after=after,
            tokens_freed=before - after,
            duration_s=time.perf_counter() - start,
            actions=tuple(actions),
            archived=tuple(i for a in actions for i in a.archived),
            items_after=len(current),
        )
        return current, result


#: A factory of cleanup steps from keyword options.
StepFactory = Callable[..., CleanupStep]


def archived_items(block: ArchivedBlock) -> list[MemoryItem]:
    """The items a cleanup step archived in ``block``, in order, with their metadata.

    Raises:
        ConfigurationError: the block was not written by a cleanup step (its content is not
            JSON Lines of item records); the message names the block.
    """
    content = block.content
    if not isinstance(content, str):
        raise ConfigurationError(f"archived block {block.id} is not a cleanup step's block")
    try:
        return [MemoryItem.from_record(json.loads(line)) for line in content.split("\n")]
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"archived block {block.id} is not a cleanup step's block: {exc}"
        ) from None
