"""Reducers free tokens before trimming, report what they freed, and lose nothing."""

from __future__ import annotations

from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import pytest

from ctxbudget import ContextBuilder, Section, SectionError, build_context
from ctxbudget.memory import dedupe, evict_older_than, keep_summary_only, summarize_oldest
from ctxbudget.testing import CharTokenizer

CHAR = CharTokenizer()


def test_dedupe_drops_exact_and_near_duplicates_keeping_the_newest() -> None:
    """Same words in another case or spacing, or 90%-similar word sets, are duplicates."""
    items = [
        "Maya prefers short answers",
        "maya   PREFERS short answers",
        "the loader runs at 02:00 UTC every night in the main cluster now",
        "the loader runs at 02:00 UTC every night in the main cluster",
        "Jonah owns the carrier feed",
    ]
    kept, reduction = dedupe()(items, CHAR)
    assert kept == [items[1], items[3], items[4]]
    assert reduction.removed == [items[0], items[2]]
    assert reduction.tokens_freed == len("\n".join(items)) - len("\n".join(kept))


def test_evict_older_than_uses_leading_timestamps() -> None:
    """Items stamped before the cutoff go; unstamped items stay."""
    now = datetime(2026, 11, 21, tzinfo=timezone.utc)
    items = [
        "2026-09-01: decided to use dbt",
        "[2026-11-20 09:30] fixed LUM-214",
        "no date on this one",
        "2026-10-30T12:00: moved the standup",
    ]
    kept, reduction = evict_older_than(days=30, now=now)(items, CHAR)
    assert kept == items[1:]
    assert reduction.removed == [items[0]]


def test_summarize_oldest_keeps_the_newest_items() -> None:
    """All but the newest `keep` items become one summary item within its limit."""
    items = [f"user: fact number {i} about the Rotterdam loader." for i in range(10)]
    kept, reduction = summarize_oldest(keep=3, max_tokens=60)(items, CHAR)
    assert kept[1:] == items[-3:]
    assert kept[0].startswith("summary: ")
    assert len(kept[0]) - len("summary: ") <= 60
    assert reduction.removed == items[:7]
    assert reduction.added == [kept[0]]


def test_keep_summary_only_replaces_the_section() -> None:
    """A long document becomes one summary item."""
    items = [f"Paragraph {i} explains partition windows in UTC." for i in range(20)]
    kept, reduction = keep_summary_only(max_tokens=80)(items, CHAR)
    assert len(kept) == 1
    assert kept[0].startswith("summary: ")
    assert reduction.removed == items


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("shrink", "unknown reducer 'shrink'"),
        ({"dedupe": {"bogus": 1}}, "bogus"),
        (["dedupe"], "a reducer is a name"),
        ({"evict_older_than": {"days": -1}}, r"evict_older_than: days must be from 0"),
        ({"evict_older_than": {"days": float("inf")}}, "days must be from 0 to 999,999,999"),
        ({"evict_older_than": {"days": float("nan")}}, "days must be from 0"),
        ({"evict_older_than": {"days": 2**70}}, "days must be from 0"),  # no OverflowError
        ({"evict_older_than": {"days": "30"}}, "reducer 'evict_older_than': days must be a"),
        ({"summarize_oldest": {"keep": -1}}, "summarize_oldest: keep must be a whole number"),
        ({"summarize_oldest": {"keep": "2"}}, "reducer 'summarize_oldest': keep must be"),
        ({"summarize_oldest": {"max_tokens": -5}}, "max_tokens must be a whole number >= 0"),
        ({"keep_summary_only": {"max_tokens": 1.5}}, "max_tokens must be a whole number"),
    ],
)
def test_bad_reducer_specs_name_the_problem(spec: object, message: str) -> None:
    """Unknown reducers, bad options and malformed specs are SectionErrors."""
    with pytest.raises(SectionError, match=message):
        Section(name="facts", content="x", reducers=[spec])  # type: ignore[list-item]


def test_evict_older_than_a_longest_age_or_a_naive_now_evicts_by_utc() -> None:
    """An age reaching before the first datetime evicts nothing (no OverflowError at run
    time), and a naive ``now`` is taken as UTC, as timestamps without an offset are."""
    items = ["2026-10-02 deploy froze", "2026-11-30T23:00 rollback", "no date"]
    kept, reduction = evict_older_than(999_999_999, now=datetime(2026, 12, 1))(items, CHAR)
    assert (kept, reduction.removed, reduction.tokens_freed) == (items, [], 0)
    kept, reduction = evict_older_than(1, now=datetime(2026, 12, 1, 12))(items, CHAR)
    assert kept == items[1:]
    assert reduction.removed == items[:1]


def test_build_runs_reducers_only_when_over_allocation() -> None:
    """Within its allocation a section is untouched; over it, dedupe frees room first."""
    lines = ["the same fact"] * 30 + ["a fresh fact"]
    section = Section(name="facts", content="\n".join(lines), reducers=["dedupe"])
    roomy = build_context([section], tokenizer=CHAR)
    assert roomy.section("facts").reductions == []
    tight = build_context([section], tokenizer=CHAR, max_tokens=60)
    report = tight.section("facts")
    assert [r.reducer for r in report.reductions] == ["dedupe"]
    assert report.reductions[0].removed == ["the same fact"] * 29
    assert report.reductions[0].tokens_freed == 29 * len("the same fact\n")
    assert tight.text == "## Facts\nthe same fact\na fresh fact"
    assert tight.to_dict()["sections"][0]["reductions"][0]["items_removed"] == 29


def test_reduced_items_go_to_the_archive() -> None:
    """What a reducer removes is archived, retrievable exactly."""
    builder = ContextBuilder(tokenizer=CHAR, archive="memory://")
    section = Section(name="facts", content=["dup", "dup", "dup", "other"], reducers=["dedupe"])
    result = builder.build([section], max_tokens=15)
    ids = result.section("facts").reduction_archive_ids
    assert len(ids) == 1
    assert builder.archive.get(ids[0]).content == ["dup", "dup"]  # type: ignore[union-attr]


def test_presets_name_reducers_per_section(tmp_path: Path) -> None:
    """A preset's section entry can list reducers with options."""
    preset = tmp_path / "p.yaml"
    preset.write_text(
        "sections:\n"
        "  log:\n"
        "    weight: 1\n"
        "    reducers:\n"
        "      - dedupe\n"
        "      - evict_older_than: {days: 30}\n"
    )
    content = "\n".join(["2000-01-01: ancient"] * 5 + ["repeat"] * 5 + ["2999-01-01: new"])
    result = build_context({"log": content}, tokenizer=CHAR, max_tokens=40, preset=preset)
    assert [r.reducer for r in result.section("log").reductions] == [
        "dedupe",
        "evict_older_than",
    ]
    assert result.text == "## Log\nrepeat\n2999-01-01: new"


def test_dedupe_near_duplicate_at_exactly_the_threshold_goes() -> None:
    """9 shared words of 10 is a similarity of exactly 0.9: at the default threshold, a dup."""
    newer = "one two three four five six seven eight nine ten"
    older = "one two three four five six seven eight nine"
    kept, reduction = dedupe()([older, newer], CHAR)
    assert kept == [newer]
    assert reduction.removed == [older]
    assert dedupe(0.91)([older, newer], CHAR)[0] == [older, newer]


@pytest.mark.parametrize(
    ("threshold", "kept"),
    [
        (0.0, ["...", "c d"]),  # every item with words after the first kept one goes
        (-1, ["...", "c d"]),
        (1.5, ["a b", "...", "c d"]),  # only exact duplicates go
        (float("nan"), ["a b", "...", "c d"]),
    ],
)
def test_dedupe_thresholds_outside_zero_to_one(threshold: float, kept: list[str]) -> None:
    """Thresholds at or below 0 match any pair, above 1 (or NaN) none; wordless items are
    only ever exact duplicates of each other."""
    items = ["a b", "", "...", "c d"]
    assert dedupe(threshold)(items, CHAR)[0] == kept


def test_dedupe_threshold_must_be_a_number() -> None:
    """A threshold that is not a number is a reducer spec error naming it."""
    with pytest.raises(SectionError, match="threshold must be a number"):
        Section(name="facts", content="x", reducers=[{"dedupe": {"threshold": "high"}}])


def test_dedupe_reads_a_memory_items_words_once_and_evolve_keeps_them() -> None:
    """A component cleaned up again reuses each item's words (items are immutable); a copy
    with other metadata keeps them, a copy with other text reads its own."""
    from ctxbudget.memory import MemoryItem
    from ctxbudget.memory._reducers import _SIGNATURE, split_duplicates

    items = [
        MemoryItem("Ship it on Friday", kind="interaction"),
        MemoryItem("ask Maya about the budget", kind="interaction"),
        MemoryItem("ship it, on friday!", kind="interaction"),
    ]
    first = split_duplicates(items, 0.9)
    assert first == ([items[1], items[2]], [items[0]])
    assert sorted(items[1].__dict__[_SIGNATURE]) == ["about", "ask", "budget", "maya", "the"]
    assert split_duplicates(items, 0.9) == first  # the kept words give the same result
    # the kept words are what is read again: planted ones decide the next run
    kept_words = items[0].__dict__[_SIGNATURE]
    items[0].__dict__[_SIGNATURE] = ("something", "else", "entirely")
    assert split_duplicates(items, 0.9) == (items, [])
    items[0].__dict__[_SIGNATURE] = kept_words
    touched = items[1].evolve(status="completed")
    assert touched.__dict__[_SIGNATURE] is items[1].__dict__[_SIGNATURE]
    assert touched.metadata() == {"kind": "interaction", "status": "completed"}
    other = items[1].evolve("ask Maya")
    assert _SIGNATURE not in other.__dict__
    assert split_duplicates([other, items[1]], 0.9) == ([other, items[1]], [])
    assert _SIGNATURE not in vars(type(other))  # never a class-level default
    plain = "ship it on friday"
    assert split_duplicates([plain, "Ship it on Friday"], 0.9) == (["Ship it on Friday"], [plain])


@pytest.mark.parametrize("threshold", [10**400, Fraction(10**400, 3), -(10**400)])
def test_dedupe_takes_thresholds_too_large_for_a_float(threshold: object) -> None:
    """Any real number is a threshold: above 1 only exact duplicates go, at or below 0 every
    item with words after the first kept one goes (no float conversion on the way)."""
    items = ["ship it friday", "Ship it, Friday!", "ask maya", "ask maya please"]
    kept, reduction = dedupe(threshold)(items, CharTokenizer())  # type: ignore[arg-type]
    if threshold > 0:  # type: ignore[operator]
        assert kept == ["Ship it, Friday!", "ask maya", "ask maya please"]
    else:
        assert kept == ["ask maya please"]
    assert reduction.removed == [i for i in items if i not in kept]
