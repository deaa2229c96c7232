"""A component's memory: its items, their size, and its cleanup, ready for a BudgetManager."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from .._errors import ConfigurationError
from ..memory._archive import Archive, MemoryArchive
from ..memory._item import MemoryItem
from ..tokenizers import get_tokenizer
from ..typing import Summarizer, Tokenizer
from ._cleanup import CleanupPipeline, CleanupResult
from ._cleanup_registry import PIPELINES, cleanup_pipeline

__all__ = ["ComponentMemory"]


class ComponentMemory:
    """The items of one long-lived component (oldest first) and the pipeline that cleans them.

    It is a memory store (``name``, ``fetch()``), so a builder can take it as a section, and
    :meth:`cleanup` is a ``(tokens_needed) -> CleanupResult`` callable (``int(result)`` is the
    tokens freed), so ``BudgetManager(cleanup={"working_memory": memory.cleanup})`` works.

    Args:
        name: the component (``"working_memory"``...): the archive source of what it removes.
        items: its first items, ``str`` or :class:`~ctxbudget.memory.MemoryItem`.
        pipeline: its cleanup (default: the reference pipeline named ``name``).
        archive: where removed items go (default: a new :class:`~ctxbudget.memory.MemoryArchive`).
        tokenizer: a name or a tokenizer (default ``"o200k_base"``).
        capacity: its capacity in tokens (for ``evict_lru_files``), or ``None``.
        summarizer: for compression and summaries (default: the offline extractive one).
        clock: returns the current time (timezone-aware); for tests.

    Raises:
        ConfigurationError: no pipeline given and ``name`` has no reference pipeline, or a
            bad tokenizer.

    Each item is counted once, when added; its count is kept with it (``tokens``).
    """

    def __init__(
        self,
        name: str,
        items: Iterable[str] = (),
        *,
        pipeline: CleanupPipeline | None = None,
        archive: Archive | None = None,
        tokenizer: Tokenizer | str = "o200k_base",
        capacity: int | None = None,
        summarizer: Summarizer | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if pipeline is None:
            if name not in PIPELINES:
                raise ConfigurationError(
                    f"component {name!r} has no reference cleanup pipeline "
                    f"({', '.join(PIPELINES)}): give pipeline="
                )
            pipeline = cleanup_pipeline(name)
        self._name = name
        self.pipeline = pipeline
        self.archive = archive if archive is not None else MemoryArchive()
        self.tokenizer = get_tokenizer(tokenizer)
        self.capacity = capacity
        self.summarizer = summarizer
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._lock = threading.Lock()
        self._items: list[MemoryItem] = []
        self._tokens = 0
        for item in items:
            self.add(item)

    @property
    def name(self) -> str:
        """The component's name (the section name when used as a store)."""
        return self._name

    @property
    def items(self) -> tuple[MemoryItem, ...]:
        """The items, oldest first, each with its ``tokens``."""
        return tuple(self._items)

    @property
    def tokens(self) -> int:
        """The items' total size, in tokens."""
        return self._tokens

    def fetch(self) -> list[str]:
        """The items, oldest first (the memory-store protocol)."""
        return list(self._items)

    def add(self, item: str) -> MemoryItem:
        """Append ``item`` (counted now unless it has ``tokens``); the item as stored."""
        stored = item if isinstance(item, MemoryItem) else MemoryItem(item)
        if stored.tokens is None:
            stored = stored.evolve(tokens=self.tokenizer.count(stored))
        with self._lock:
            self._items.append(stored)
            self._tokens += stored.tokens or 0
        return stored

    def touch(self, text: str) -> int:
        """Mark every item whose text is ``text`` accessed now; how many there were."""
        now = self._clock()
        with self._lock:
            hits = 0
            for i, item in enumerate(self._items):
                if item == text:
                    self._items[i] = item.evolve(last_accessed=now)
                    hits += 1
        return hits

    def update(self, text: str, **changes: Any) -> int:
        """Change the metadata of every item whose text is ``text`` (``status="completed"``
        when a task or a subagent finishes; ``last_accessed`` is set to now unless given);
        how many there were (0 when a cleanup removed it meanwhile).

        Raises:
            ConfigurationError: a change is not valid metadata (see
                :meth:`MemoryItem.evolve <ctxbudget.memory.MemoryItem.evolve>`).
        """
        changes.setdefault("last_accessed", self._clock())
        with self._lock:
            hits = 0
            for i, item in enumerate(self._items):
                if item == text:
                    self._items[i] = item.evolve(**changes)
                    hits += 1
        return hits

    def cleanup(self, tokens_needed: int | None = None) -> CleanupResult:
        """Run the pipeline; stop once ``tokens_needed`` are freed (``None``: every step).

        Raises:
            ConfigurationError: ``tokens_needed`` is not a whole number >= 0.
            ArchiveError: the archive failed (the items are left unchanged).
        """
        sizes: dict[str, int] = {}
        with self._lock:
            items, result = self.pipeline.run(
                self._items,
                tokenizer=self.tokenizer,
                archive=self.archive,
                now=self._clock(),
                tokens_needed=tokens_needed,
                capacity=self.capacity,
                summarizer=self.summarizer,
                component=self._name,
                sizes=sizes,
            )
            self._items = [self._sized(i, sizes) for i in items]
            self._tokens = result.tokens_after
        return result

    @staticmethod
    def _sized(item: str, sizes: dict[str, int]) -> MemoryItem:
        """``item`` as a MemoryItem with its ``tokens`` (new summaries were counted in the run)."""
        stored = item if isinstance(item, MemoryItem) else MemoryItem(item)
        if stored.tokens is None:
            stored = stored.evolve(tokens=sizes[stored])
        return stored
