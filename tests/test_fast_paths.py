"""The shortcuts behind the cleanup speed goal give the answers the plain way gives."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from ctxbudget import get_tokenizer
from ctxbudget.agents import cleanup_pipeline
from ctxbudget.memory import MemoryArchive, MemoryItem

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
O200K = get_tokenizer("o200k_base")
CL100K = get_tokenizer("cl100k_base")


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_single_spaced_text_has_at_least_one_token_a_word(text: str) -> None:
    line = " ".join(text.split())
    for tokenizer in (O200K, CL100K):
        assert tokenizer.space_bounded
        assert tokenizer.count(line) >= len(line.split())


def test_words_bound_by_hand() -> None:
    assert O200K.count("a b c d") >= 4
    assert O200K.count("!! ?? ..") >= 3


class Counting:
    """o200k, with every counted text recorded."""

    name = "o200k_base"

    def __init__(self) -> None:
        self.texts: Counter[str] = Counter()

    def count(self, text: str) -> int:
        self.texts[text] += 1
        return O200K.count(text)


def _context(n: int) -> MemoryItem:
    body = " ".join(f"Server {i} of rack {n} ran job {i * n} at noon." for i in range(900))
    return MemoryItem(body, kind="file", last_accessed=NOW - timedelta(hours=2))


def test_a_compressed_item_is_counted_once_and_its_count_is_right() -> None:
    tokenizer = Counting()
    pipeline = cleanup_pipeline("working_memory")
    for n in (1, 2):  # a second run sees its own summary, never the first run's count
        item = _context(n)
        left, result = pipeline.run([item], tokenizer=tokenizer, archive=MemoryArchive(), now=NOW)
        (summary,) = left
        assert summary != item
        assert summary.loaded == "summary"
        assert tokenizer.texts[summary] == 1  # the summarizer's check; the step reuses it
        assert result.tokens_after == O200K.count(summary)
        assert result.tokens_freed == O200K.count(item) - O200K.count(summary)


class AdditiveCounting(Counting):
    """o200k with its counts recorded, declaring, as o200k does, that counts add up across
    lines."""

    newline_additive = True


def test_under_an_additive_tokenizer_a_summary_is_never_encoded_whole() -> None:
    tokenizer = AdditiveCounting()
    item = _context(3)
    left, result = cleanup_pipeline("working_memory").run(
        [item], tokenizer=tokenizer, archive=MemoryArchive(), now=NOW
    )
    (summary,) = left
    assert "\n" in summary
    assert tokenizer.texts[summary] == 0  # its lines' counts added up; the step reuses them
    assert result.tokens_after == O200K.count(summary)


def test_dedupe_reports_the_exact_tokens_freed_and_counts_nothing_when_nothing_goes() -> None:
    from ctxbudget.memory._reducers import dedupe

    items = ["Ship it Friday.", "/path stays", "  indented line", "ship it friday", "Ask Maya"]
    kept, reduction = dedupe()(items, O200K)
    assert kept == ["/path stays", "  indented line", "ship it friday", "Ask Maya"]
    whole, left = "\n".join(items), "\n".join(kept)
    assert reduction.tokens_freed == O200K.count(whole) - O200K.count(left)
    tokenizer = Counting()
    kept, reduction = dedupe()(["one line", "another line"], tokenizer)
    assert reduction.tokens_freed == 0
    assert not tokenizer.texts
