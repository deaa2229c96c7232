"""The cap holds on real text nobody on the team wrote (the shared corpus), and is well used.

Conversations are history sections (one item per message), documentation pages are knowledge
sections (paragraph items), Jargon File entries are facts (one item per entry).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import corpus
from ctxbudget import Section, build_context, get_tokenizer


def real_sections(offset: int) -> list[Section]:
    """Eight default-preset sections filled with real text, different text per offset."""
    convs = corpus.conversations()
    pages = list(corpus.pydoc_pages().values())
    entries = corpus.jargon_entries()
    history = [i for c in convs[offset : offset + 40] for i in corpus.message_items(c)]
    return [
        Section(name="summaries", content=history),
        Section(name="userProfile", content=entries[offset : offset + 60]),
        Section(name="userFacts", content=entries[offset + 60 : offset + 400]),
        Section(name="entities", content=entries[offset + 400 : offset + 900]),
        Section(name="graph", content=pages[offset % len(pages)], split="paragraphs"),
        Section(name="decisions", content=corpus.message_items(convs[offset + 100])),
        Section(name="learnings", content=pages[(offset + 7) % len(pages)], split="paragraphs"),
        Section(name="procedures", content=pages[(offset + 13) % len(pages)], split="lines"),
    ]


@pytest.mark.data
@pytest.mark.parametrize("tokenizer", ["o200k_base", "cl100k_base", "hf"])
@pytest.mark.parametrize("cap", [1000, 4000, 16_000, 32_000])
def test_real_memory_fits_the_cap_and_uses_at_least_95_percent(
    shared_data: Path, hf_tokenizer_json: Path, tokenizer: str, cap: int
) -> None:
    """Eight real sections: never over the cap; with demand above it, >= 95% of it is used."""
    tok = get_tokenizer(f"hf:{hf_tokenizer_json}" if tokenizer == "hf" else tokenizer)
    for offset in (0, 250, 500):
        sections = real_sections(offset)
        result = build_context(sections, max_tokens=cap, tokenizer=tok, preset="default")
        assert tok.count(result.text) == result.tokens <= cap
        demand = build_context(sections, tokenizer=tok, preset="default").tokens
        assert demand > cap  # the real memory is larger than every cap tried
        assert result.tokens >= 0.95 * cap, (offset, result.tokens)


@pytest.mark.data
def test_every_real_conversation_fits_as_history(shared_data: Path) -> None:
    """Each of the 1,172 conversations, as history beside real facts, fits its cap exactly.

    When less than 95% of the cap is used, it is only because items are kept whole: the next
    item of every trimmed section is larger than the room left.
    """
    tok = get_tokenizer("o200k_base")
    entries = corpus.jargon_entries()
    caps = [256, 1024, 4096, 16_384]
    for i, conversation in enumerate(corpus.conversations()):
        cap = caps[i % len(caps)]
        items = corpus.message_items(conversation)
        sections = [
            Section(name="history", content=items, weight=0.7),
            Section(name="facts", content=entries[i : i + 300], weight=0.3),
        ]
        result = build_context(sections, max_tokens=cap, tokenizer=tok)
        assert result.tokens <= cap, i
        assert tok.count(result.text) == result.tokens
        history = result.section("history")
        assert history.items_kept + history.items_trimmed == len(items)
        room = cap - result.tokens
        if room <= 0.05 * cap:
            continue
        for report in result.sections:
            if report.status in ("full", "failed") or report.cut:
                continue
            next_item = report.trimmed_items[-1]  # the removed item nearest the kept end
            header = tok.count(f"## {report.title}\n") if report.items_kept == 0 else 0
            # 4 tokens of slack: per-piece counts may exceed the joined text's count
            assert tok.count(next_item) + 1 + header > room - 4, (i, report.name, room)


@pytest.mark.data
def test_newest_message_is_kept_when_history_is_trimmed(shared_data: Path) -> None:
    """Trimming history keeps the newest message (whole, or cut with a marker when huge)."""
    tok = get_tokenizer("o200k_base")
    for conversation in corpus.conversations()[:300]:
        items = corpus.message_items(conversation)
        result = build_context({"history": items}, max_tokens=512, tokenizer=tok)
        newest = items[-1]
        report = result.section("history")
        if report.cut:
            kept = result.text.split("[…]", 1)[1]
            assert newest.endswith(kept)
        else:
            assert result.text.endswith(newest)
