"""Reducers: free tokens from a section with less loss than blind trimming.

A build runs a section's reducers, in order, before trimming, when the section is over its
allocation. Each reducer returns the items it keeps and the items it removes; the build reports
the tokens freed and sends what was removed to the archive (or keeps it in the report). A
section with reducers is read in full, so reducers suit sections of moderate size.

Reducers, by name (the name a preset's ``reducers:`` list or ``Section(reducers=...)`` uses):

- ``dedupe``: drops exact duplicates (same words, ignoring case and spacing) and near
  duplicates (Jaccard similarity of word sets >= ``threshold``, default 0.9), keeping the newest.
- ``evict_older_than``: drops items whose leading timestamp (``2026-10-02``,
  ``2026-10-02T14:05``, ``[2026-10-02 14:05:00]``...) is older than ``days`` days.
- ``summarize_oldest``: replaces all but the newest ``keep`` items with one ``summary:`` item
  of at most ``max_tokens`` tokens.
- ``keep_summary_only``: replaces the whole section with one summary item (long documents).
"""

from __future__ import annotations

import numbers
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .._errors import SectionError
from ..tokenizers._counting import CountCache
from ..typing import Summarizer, Tokenizer
from ._item import MemoryItem
from ._jaccard import JaccardIndex
from ._words import byte_table, runs

__all__ = [
    "REDUCERS",
    "Reducer",
    "Reduction",
    "check_reducer_spec",
    "dedupe",
    "evict_older_than",
    "keep_summary_only",
    "reducer_from_spec",
    "summarize_oldest",
]

_TIMESTAMP = re.compile(r"^\W{0,3}(\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?)")
_WORDS = re.compile(r"\w+")
#: The ``\w`` byte table (``\w`` on ASCII is exactly ``[A-Za-z0-9_]``) for :func:`runs`.
_WORD_TABLE = byte_table(lambda c: c.isalnum() or c == "_")


@dataclass(frozen=True)
class Reduction:
    """What one reducer did to a section: items removed, tokens freed, the new items added."""

    reducer: str
    removed: list[str]
    added: list[str] = field(default_factory=list)
    tokens_freed: int = 0


#: A reducer: (items oldest first, tokenizer) -> (items kept, Reduction).
Reducer = Callable[[list[str], Tokenizer], tuple[list[str], Reduction]]


def _words(text: str) -> list[str]:
    """The ``\\w+`` runs of ``text.lower()``."""
    return runs(text, _WORD_TABLE, _WORDS)


#: The attribute under which a MemoryItem keeps its :func:`_signature` once computed (one of
#: the item's derived attributes, ``memory._item._DERIVED``).
_SIGNATURE = "_dedupe_words"


def _signature(text: str, canonical: Callable[[str, str], str]) -> tuple[str, ...]:
    """The distinct words of ``text``, as a tuple: the word set ``dedupe`` compares of it at
    thresholds up to 1.

    ``canonical`` is a run's ``dict.setdefault``: it maps each word to one string object per
    distinct word of the run, so every set holds the same few thousand objects, whose hashes
    stay in the CPU cache (the index over them runs about 1.5x faster than over a fresh string
    per occurrence, ``python -m benchmarks.cleanup``). A tuple, not a frozenset: the index
    keeps every item's words until the run ends, and the cyclic garbage collector stops
    looking at a tuple of strings once it has seen it, where it walks a frozenset's elements
    at each collection (``JaccardIndex``).

    A :class:`~ctxbudget.memory.MemoryItem` keeps that tuple (items are immutable, so it
    never goes stale), as it keeps its token count: a component cleaned up again reads each
    unchanged item's words from it instead of scanning its text. That is about the text's
    size for items read in one run (frozensets of fresh strings took 10x). Its strings are
    one object per word of the run that read it; items read in different runs share no word
    strings (equal strings, not one object: the same result, slightly slower to compare, and
    each run's copy of a word kept). A plain ``str`` has nowhere to keep them and is read
    every time.
    """
    own = text.__dict__ if isinstance(text, MemoryItem) else None
    if own is not None:
        known: tuple[str, ...] | None = own.get(_SIGNATURE)
        if known is not None:
            return known
    # the distinct words first (their hashes computed once), then one canonical object each
    found = set(_words(text))
    distinct = tuple(map(canonical, found, found))
    if own is not None:
        own[_SIGNATURE] = distinct
    return distinct


def _tokens(items: Sequence[str], tokenizer: Tokenizer) -> int:
    return tokenizer.count("\n".join(items))


def _freed(before: Sequence[str], after: Sequence[str], tokenizer: Tokenizer) -> int:
    """``_tokens(before) - _tokens(after)``, the lines the two texts share counted once (for
    ``newline_additive`` tokenizers, :meth:`CountCache.count_text`); nothing is counted when
    ``after`` is all of ``before`` (a reducer that keeps a subsequence and removed nothing)."""
    if len(after) == len(before) and all(map(operator.is_, after, before)):
        return 0
    cache = CountCache()
    joined = "\n".join
    return cache.count_text(tokenizer, joined(before)) - cache.count_text(tokenizer, joined(after))


def dedupe(threshold: float = 0.9) -> Reducer:
    """Drop exact and near-duplicate items, keeping the newest of each.

    Items are read newest first. An item's words are the ``\\w+`` runs of its lowercased
    text. It is removed when its words, joined by spaces, equal those of an item already kept
    (same words in the same order, ignoring case, spacing and punctuation; items with no words
    are all exact duplicates of each other), or when its word set ``A`` is not empty and
    ``len(A & B) / len(A | B) >= threshold`` for the word set ``B`` of an item already kept.
    Kept and removed items stay in their original order, oldest first.

    Args:
        threshold: the Jaccard similarity (0-1) at or above which two items are near
            duplicates. At or below 0, every item with words after the first kept one is a
            near duplicate; above 1, only exact duplicates go.

    Returns:
        The reducer; its :class:`Reduction` lists the removed items and the tokens freed
        (the count of all items joined by newlines less that of the kept ones).

    Raises:
        TypeError: ``threshold`` is not a real number.

    Near duplicates are found through a prefix-filter index over the word sets
    (:mod:`ctxbudget.memory._jaccard`), which yields every item the all-pairs comparison
    would match and decides each with the same expression, so the result equals comparing
    every pair: 10k lines of real text take about 0.5 s of CPU instead of 1-2 minutes
    (``python -m benchmarks.dedupe``).

    >>> from ctxbudget.testing import CharTokenizer
    >>> dedupe()(["Ship it Friday", "ship  it friday!", "ask Maya"], CharTokenizer())[0]
    ['ship  it friday!', 'ask Maya']
    """
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a number from 0 to 1, got {threshold!r}")

    def run(items: list[str], tokenizer: Tokenizer) -> tuple[list[str], Reduction]:
        kept, removed = split_duplicates(items, threshold)
        freed = _freed(items, kept, tokenizer)
        return kept, Reduction("dedupe", removed, [], freed)

    return run


def split_duplicates(items: Sequence[str], threshold: float) -> tuple[list[str], list[str]]:
    """``dedupe``'s rule without the token count: ``(kept, removed)``, both oldest first, the
    very objects of ``items`` (so a :class:`~ctxbudget.memory.MemoryItem` keeps its metadata).

    Up to a threshold of 1, the word sets decide alone: an exact duplicate (same words in the
    same order) has the same non-empty set as the kept item, whose similarity ``1.0`` meets
    the threshold, so the index finds it; only wordless items need the exact rule (the first
    one read is kept). Above 1 (or NaN) only exact duplicates go: the joined words decide.
    """
    texts = list(dict.fromkeys(items))  # each distinct text once
    unread = {text: i for i, text in enumerate(texts)}
    keys: list[str] | None = None
    sets: list[tuple[str, ...]] = []
    if not threshold <= 1:  # exact duplicates only
        keys = [" ".join(_words(text)) for text in texts]
    else:
        canonical: dict[str, str] = {}
        sets = [_signature(text, canonical.setdefault) for text in texts]
    near = JaccardIndex(sets, threshold)
    kept_rev: list[str] = []
    seen_exact: set[str] = set()
    wordless_kept = False
    removed: list[str] = []
    for item in reversed(items):  # newest first, so the newest copy survives
        # An older copy of a text already read goes: the newer copy was kept (this one is
        # an exact duplicate) or removed as a duplicate of a kept item (so is this one).
        i = unread.pop(item, -1)
        if i >= 0:
            if keys is not None:
                keep = keys[i] not in seen_exact
                seen_exact.add(keys[i])
            elif sets[i]:
                keep = near.add_unless_similar(i)
            else:  # wordless: an exact duplicate of any wordless item kept before
                keep = not wordless_kept and near.add_unless_similar(i)
                wordless_kept = True
            if keep:
                kept_rev.append(item)
                continue
        removed.append(item)
    removed.reverse()
    return kept_rev[::-1], removed


def evict_older_than(days: float, now: datetime | None = None) -> Reducer:
    """Drop items whose leading timestamp is older than ``days`` days (UTC).

    Args:
        days: the age, in days, past which an item goes: a real number from 0 to
            999,999,999 (the longest ``timedelta``).
        now: the time ages are measured from (default: the time of each run); a naive
            datetime is taken as UTC, as timestamps without an offset are.

    Raises:
        TypeError: ``days`` is not a real number, or ``now`` is not a datetime.
        ValueError: ``days`` is negative, not a number, or past 999,999,999.
    """
    if isinstance(days, bool) or not isinstance(days, numbers.Real):
        raise TypeError(f"days must be a number of days from 0, got {days!r}")
    if not 0 <= days <= timedelta.max.days:
        raise ValueError(
            f"evict_older_than: days must be from 0 to {timedelta.max.days:,}, got {days!r}"
        )
    if now is not None and not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, got {now!r}")
    age = timedelta(days=float(days))

    def run(items: list[str], tokenizer: Tokenizer) -> tuple[list[str], Reduction]:
        start = now or datetime.now(timezone.utc)
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        try:
            cutoff = start - age
        except OverflowError:  # before the first datetime: no timestamp is older
            return items, Reduction("evict_older_than", [])
        kept: list[str] = []
        removed: list[str] = []
        for item in items:
            match = _TIMESTAMP.match(item)
            when = None
            if match:
                try:
                    when = datetime.fromisoformat(match.group(1).replace(" ", "T"))
                except ValueError:
                    when = None
            if when is not None and when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            (removed if when is not None and when < cutoff else kept).append(item)
        freed = _freed(items, kept, tokenizer)
        return kept, Reduction("evict_older_than", removed, [], freed)

    return run


def _whole(reducer: str, name: str, value: object) -> None:
    """``value`` must be an int >= 0 (not a bool): ``TypeError`` or ``ValueError`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{reducer}: {name} must be a whole number >= 0, got {value!r}")


def summarize_oldest(
    keep: int = 10, max_tokens: int = 200, summarizer: Summarizer | None = None
) -> Reducer:
    """Replace all but the newest ``keep`` items with one summary item of at most
    ``max_tokens`` tokens.

    Raises:
        TypeError: ``keep`` or ``max_tokens`` is not an int.
        ValueError: ``keep`` or ``max_tokens`` is negative.
    """
    _whole("summarize_oldest", "keep", keep)
    _whole("summarize_oldest", "max_tokens", max_tokens)

    def run(items: list[str], tokenizer: Tokenizer) -> tuple[list[str], Reduction]:
        if len(items) <= keep:
            return items, Reduction("summarize_oldest", [])
        old, recent = items[: len(items) - keep], items[len(items) - keep :]
        text = (summarizer or _extractive(tokenizer)).summarize(old, max_tokens)
        added = [f"summary: {text}"] if text else []
        kept = [*added, *recent]
        freed = _freed(items, kept, tokenizer)
        return kept, Reduction("summarize_oldest", old, added, freed)

    return run


def keep_summary_only(max_tokens: int = 300, summarizer: Summarizer | None = None) -> Reducer:
    """Replace the whole section with one summary item of at most ``max_tokens`` tokens.

    Raises:
        TypeError: ``max_tokens`` is not an int.
        ValueError: ``max_tokens`` is negative.
    """
    _whole("keep_summary_only", "max_tokens", max_tokens)

    def run(items: list[str], tokenizer: Tokenizer) -> tuple[list[str], Reduction]:
        text = (summarizer or _extractive(tokenizer)).summarize(items, max_tokens)
        added = [f"summary: {text}"] if text else []
        freed = _tokens(items, tokenizer) - _tokens(added, tokenizer)
        return added, Reduction("keep_summary_only", list(items), added, freed)

    return run


#: Reducer factories by name.
REDUCERS: Mapping[str, Callable[..., Reducer]] = {
    "dedupe": dedupe,
    "evict_older_than": evict_older_than,
    "summarize_oldest": summarize_oldest,
    "keep_summary_only": keep_summary_only,
}


def _build(spec: object) -> tuple[str, Reducer]:
    """The reducer a spec names; ``ValueError`` saying what is wrong with the spec."""
    options: dict[str, Any]
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, Mapping) and len(spec) == 1:
        name, raw = next(iter(spec.items()))
        if raw is not None and not isinstance(raw, Mapping):
            raise ValueError(f"options of reducer {name!r} must be a mapping, got {raw!r}")
        options = dict(raw or {})
    else:
        raise ValueError(f"a reducer is a name or {{name: {{options}}}}, got {spec!r}")
    factory = REDUCERS.get(name) if isinstance(name, str) else None
    if factory is None:
        raise ValueError(f"unknown reducer {name!r}; known: {', '.join(REDUCERS)}")
    try:
        return name, factory(**options)
    except TypeError as exc:
        raise ValueError(f"reducer {name!r}: {exc}") from None


def check_reducer_spec(spec: object) -> None:
    """Check a reducer spec (name and options) without running anything.

    Raises:
        ValueError: the name is unknown (the known ones are listed), the options do not fit
            the reducer, or the spec is not a name or ``{name: {options}}``.
    """
    _build(spec)


def reducer_from_spec(spec: str | Mapping[str, Any], section: str) -> tuple[str, Reducer]:
    """A reducer from its name, or from ``{name: {option: value}}`` (preset YAML form).

    Raises:
        SectionError: an unknown name (the known ones are listed) or bad options.
    """
    try:
        return _build(spec)
    except ValueError as exc:
        raise SectionError(str(exc), section=section) from None


def _extractive(tokenizer: Tokenizer) -> Summarizer:
    """The offline default summarizer (imported on first use: it brings the Jinja2 sandbox)."""
    from ._summarize import ExtractiveSummarizer

    return ExtractiveSummarizer(tokenizer)
