"""The archive keeps every trimmed block whole; builds can send what they trim to it."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from ctxbudget import (
    ArchiveError,
    ConfigurationError,
    ContextBuilder,
    MemoryArchive,
    Section,
    SQLiteArchive,
    archive_from_url,
)
from ctxbudget.testing import CharTokenizer


@pytest.fixture(params=["memory", "sqlite"])
def archive_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'a.db'}"


def test_get_returns_exactly_what_was_put(archive_url: str) -> None:
    """Text, items and chat messages come back byte for byte, with their metadata."""
    archive = archive_from_url(archive_url)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    end = datetime(2026, 11, 2, tzinfo=timezone.utc)
    contents = [
        "line one\n\nline two  \n",
        ["a", "b {{ x }}", "😀 é"],
        [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}],
            },
        ],
    ]
    ids = [
        archive.put(c, tokens=7, summary=f"block {i}", source="s", start=start, end=end)
        for i, c in enumerate(contents)
    ]
    for block_id, content in zip(ids, contents, strict=True):
        block = archive.get(block_id)
        assert block.content == content
        assert (block.tokens, block.source, block.start, block.end) == (7, "s", start, end)
    assert [b.summary for b in archive.blocks("s")] == ["block 0", "block 1", "block 2"]
    assert len(archive) == 3


def test_unknown_id_is_a_key_error(archive_url: str) -> None:
    """get() of an id never archived raises KeyError naming it."""
    with pytest.raises(KeyError, match="nope"):
        archive_from_url(archive_url).get("nope")


def test_non_json_content_is_refused(archive_url: str) -> None:
    """Content that would not round-trip exactly is refused, not silently altered."""
    archive = archive_from_url(archive_url)
    with pytest.raises(ArchiveError):
        archive.put({"a": object()}, tokens=1)
    with pytest.raises(ArchiveError):
        archive.put((1, 2), tokens=1)  # a tuple would come back as a list
    assert len(archive) == 0


def test_sqlite_archive_survives_reopening(tmp_path: Path) -> None:
    """A SQLite archive is durable: another handle reads what the first wrote."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    block_id = archive_from_url(url).put(["kept forever"], tokens=2)
    assert archive_from_url(url).get(block_id).content == ["kept forever"]


def test_unknown_archive_scheme_lists_known_ones() -> None:
    """Only memory:// and sqlite:// archives exist."""
    with pytest.raises(ConfigurationError, match="memory://, sqlite://"):
        archive_from_url("redis://localhost")


#: The id of ``["fact 1", "fact 2"]`` from source ``"facts"``, written out so that any change
#: of the hashing scheme fails here: sha256 of the canonical JSON ``[source, content]``.
FACTS_ID = "ab38a606dc3ca4d0e6742c5db1ff50bd"


def _second(archive_url: str, tmp_path: Path) -> str:
    return "memory://" if archive_url == "memory://" else f"sqlite:///{tmp_path / 'b.db'}"


def test_ids_are_content_addressed_and_stable(archive_url: str, tmp_path: Path) -> None:
    """Two fresh archives give the same content the same, fixed id: hashed, never random."""
    canonical = b'["facts",["fact 1","fact 2"]]'
    assert hashlib.sha256(canonical).hexdigest()[:32] == FACTS_ID
    ids = {
        archive_from_url(url).put(["fact 1", "fact 2"], tokens=4, source="facts")
        for url in (archive_url, _second(archive_url, tmp_path))
    }
    assert ids == {FACTS_ID}


def test_different_content_or_source_gets_a_different_id(archive_url: str) -> None:
    """The id covers content and source: change either and it is another block."""
    archive = archive_from_url(archive_url)
    ids = [
        archive.put(["fact 1", "fact 2"], tokens=4, source="facts"),
        archive.put(["fact 1", "fact 3"], tokens=4, source="facts"),
        archive.put(["fact 1", "fact 2"], tokens=4, source="notes"),
        archive.put("fact 1\nfact 2", tokens=4, source="facts"),
        archive.put(["fact 1", "fact 2"], tokens=4),
    ]
    assert len(set(ids)) == len(ids) == len(archive) == 5


def test_putting_again_stores_nothing_and_keeps_the_first_metadata(archive_url: str) -> None:
    """A re-put returns the same id; the archive still holds one block, as first put."""
    archive = archive_from_url(archive_url)
    first = archive.put(["a", "b"], tokens=2, summary="first", source="s")
    created = archive.get(first).created
    again = archive.put(["a", "b"], tokens=99, summary="second", source="s")
    assert again == first
    assert len(archive) == 1
    (block,) = archive.blocks()
    assert (block.id, block.tokens, block.summary, block.created) == (first, 2, "first", created)


def test_messages_differing_only_in_key_order_are_one_block(archive_url: str) -> None:
    """Dict key order does not make another block; the stored content is the first put's."""
    archive = archive_from_url(archive_url)
    first = [{"role": "user", "content": "hi"}]
    block_id = archive.put(first, tokens=3, source="conversation")
    assert archive.put([{"content": "hi", "role": "user"}], tokens=3, source="conversation") == (
        block_id
    )
    assert (
        block_id
        == hashlib.sha256(b'["conversation",[{"content":"hi","role":"user"}]]').hexdigest()[:32]
    )
    content = archive.get(block_id).content
    assert content == first
    assert list(content[0]) == ["role", "content"]
    assert len(archive) == 1


def test_lone_surrogates_and_datetimes_round_trip_under_their_content_id(
    archive_url: str,
) -> None:
    """Text that is not valid Unicode and datetimes come back exactly and address a block."""
    archive = archive_from_url(archive_url)
    when = datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)
    content = [{"role": "user", "content": "half \ud83d emoji", "timestamp": when}]
    block_id = archive.put(content, tokens=5)
    assert archive.put([dict(content[0])], tokens=5) == block_id
    assert archive.get(block_id).content == content
    assert archive.put("\ud83d", tokens=1) != archive.put("\ufffd", tokens=1)
    later = [{**content[0], "timestamp": datetime(2026, 11, 1, 9, 31, tzinfo=timezone.utc)}]
    assert archive.put(later, tokens=5) != block_id
    assert len(archive) == 4


def test_ids_are_the_same_in_another_process(tmp_path: Path) -> None:
    """A block put by another Python process has the id this one computes."""
    path = tmp_path / "shared.db"
    code = (
        "import sys; from ctxbudget import archive_from_url; "
        "print(archive_from_url(sys.argv[1]).put(['fact 1', 'fact 2'], tokens=4, "
        "source='facts'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, f"sqlite:///{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = SQLiteArchive(str(path))
    assert out == FACTS_ID == archive.put(["fact 1", "fact 2"], tokens=4, source="facts")
    assert len(archive) == 1
    archive.close()


def test_an_old_sqlite_archive_with_random_ids_still_opens_and_reads(tmp_path: Path) -> None:
    """Files written before content addressing (uuid4 ids) read as before and take new blocks."""
    path = tmp_path / "old.db"
    old_id = uuid.uuid4().hex
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE blocks (id TEXT PRIMARY KEY, content TEXT NOT NULL, "
        "tokens INTEGER NOT NULL, summary TEXT NOT NULL, source TEXT NOT NULL, "
        "start REAL, end_ REAL, created REAL NOT NULL)"
    )
    db.execute(
        "INSERT INTO blocks VALUES (?, ?, 2, 'old', 'facts', NULL, NULL, 1.0)",
        (old_id, '["fact 1", "fact 2"]'),
    )
    db.commit()
    db.close()
    archive = SQLiteArchive(str(path))
    assert archive.get(old_id).content == ["fact 1", "fact 2"]
    assert archive.put(["fact 1", "fact 2"], tokens=4, source="facts") == FACTS_ID
    assert archive.put(["fact 1", "fact 2"], tokens=4, source="facts") == FACTS_ID
    assert [b.id for b in archive.blocks("facts")] == [old_id, FACTS_ID]
    assert len(archive) == 2
    archive.close()


def test_a_failed_sqlite_batch_stores_nothing(tmp_path: Path) -> None:
    """Puts in one transaction (how a build archives its items) commit together or not at all."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    archive = SQLiteArchive(str(tmp_path / "a.db"))
    with archive._transaction():
        archive.put("one", tokens=1)
        archive.put("two", tokens=1)
    assert len(archive_from_url(url)) == 2

    def batch() -> None:
        with archive._transaction():
            archive.put("three", tokens=1)
            archive.put({"bad": object()}, tokens=1)

    with pytest.raises(ArchiveError):
        batch()
    assert len(archive) == len(archive_from_url(url)) == 2
    archive.close()


def test_len_counts_distinct_blocks() -> None:
    """len() of either backend is the number of distinct blocks, not of puts."""
    for archive in (MemoryArchive(), SQLiteArchive(":memory:")):
        for _ in range(3):
            archive.put("x", tokens=1)
            archive.put("y", tokens=1)
        assert len(archive) == 2


def test_build_sends_each_trimmed_item_to_the_archive(archive_url: str) -> None:
    """Each trimmed item gets its own block, aligned with trimmed_items; kept plus archived
    is the whole section."""
    lines = [f"fact {i}" for i in range(30)]
    builder = ContextBuilder(tokenizer=CharTokenizer(), archive=archive_url)
    result = builder.build([Section(name="facts", content="\n".join(lines))], max_tokens=60)
    report = result.section("facts")
    archive = builder.archive
    assert archive is not None
    assert report.status == "trimmed"
    assert len(report.archived_ids) == len(report.trimmed_items) == len(archive) > 1
    blocks = [archive.get(i) for i in report.archived_ids]
    kept = result.text.split("\n")[1:]
    assert [b.content for b in blocks] + kept == lines
    assert [b.tokens for b in blocks] == [len(b.content) for b in blocks]
    assert {b.source for b in blocks} == {"facts"}
    assert blocks[0].summary == "item trimmed from section facts: fact 0"
    assert report.archived_id == report.archived_ids[0]
    data = result.to_dict()["sections"][0]
    assert (data["archived_id"], data["archived_ids"]) == (
        report.archived_id,
        [*report.archived_ids],
    )


_INDICATOR = re.compile(
    r"\[Context: ([\d,]+)/([\d,]+) tokens \((\d+)%\) \| (\d+) archived blocks available\]"
)


def _shown(text: str) -> int:
    match = _INDICATOR.search(text)
    assert match is not None, text
    return int(match.group(4))


def test_budget_indicator_is_fresh_and_counted_in_every_build() -> None:
    """The injected indicator shows the final count of the very text that contains it, and
    the blocks archived so far, this build's included."""
    builder = ContextBuilder(preset="default", indicator=True, archive="memory://")
    sections = [Section(name="facts", content="\n".join(f"fact {i}" for i in range(400)))]
    trimmed: set[str] = set()
    for cap in (2000, 500, 120):
        result = builder.build(sections, max_tokens=cap)
        line = result.text.split("\n")[1]
        match = _INDICATOR.fullmatch(line)
        assert match is not None, line
        assert int(match.group(1).replace(",", "")) == result.tokens <= cap
        assert int(match.group(2).replace(",", "")) == cap
        assert result.section("budget").status == "full"
        trimmed.update(result.section("facts").trimmed_items)
        assert _shown(result.text) == len(trimmed) == len(builder.archive)  # type: ignore[arg-type]


def test_the_first_build_counts_the_blocks_it_archives() -> None:
    """Regression: the count was read before the build's blocks were put (it showed 0)."""
    builder = ContextBuilder(tokenizer=CharTokenizer(), indicator=True, archive="memory://")
    result = builder.build({"facts": [f"fact {i}" for i in range(50)]}, max_tokens=200)
    assert builder.archive is not None
    assert _shown(result.text) == len(builder.archive) == result.section("facts").items_trimmed
    assert len(builder.archive) > 0


def _growing_history_loop(url: str) -> tuple[ContextBuilder, list[tuple[str, ...]]]:
    builder = ContextBuilder(tokenizer=CharTokenizer(), archive=url, indicator=True)
    archive = builder.archive
    assert archive is not None
    history = [f"turn {i}: " + "word " * (i % 7 + 2) for i in range(150)]
    distinct: set[str] = set()
    ids = []
    for _ in range(60):
        history.append(f"turn {len(history)}: " + "word " * (len(history) % 7 + 2))
        result = builder.build(
            [
                Section(name="system", content="be brief", required=True),
                Section(name="history", content=list(history)),
            ],
            max_tokens=1500,
        )
        report = result.section("history")
        assert report.status == "trimmed"
        # every build's archived content is retrievable, byte for byte, in order
        assert [archive.get(i).content for i in report.archived_ids] == report.trimmed_items
        distinct.update(report.trimmed_items)
        assert _shown(result.text) == len(archive) == len(distinct)
        ids.append(report.archived_ids)
    stored = sum(1 if isinstance(b.content, str) else len(b.content) for b in archive.blocks())
    assert stored == len(distinct) == len(archive)
    return builder, ids


def test_a_growing_history_stores_each_trimmed_item_once(archive_url: str) -> None:
    """60 builds, each trimming the same old turns plus newer ones: every distinct item is
    stored once (the old code stored 8,567 items for 173 distinct), and each build's ids are
    the ones a fresh builder and archive give: prompts listing them are reproducible."""
    builder, ids = _growing_history_loop(archive_url)
    assert len(builder.archive) == len(set(ids[-1])) > 150  # type: ignore[arg-type]
    _, again = _growing_history_loop("memory://")
    assert again == ids


class _CountingArchive(MemoryArchive):
    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    def put(self, content: object, **labels: Any) -> str:
        self.puts += 1
        return super().put(content, **labels)


def test_a_rebuild_puts_only_newly_trimmed_items() -> None:
    """The builder remembers what it archived: a rebuild does not hash, count or put the same
    items again; only a newly trimmed one is put."""
    archive = _CountingArchive()
    builder = ContextBuilder(tokenizer=CharTokenizer(), archive=archive)
    history = [f"turn {i}" for i in range(100)]
    first = builder.build({"history": history}, max_tokens=200).section("history")
    assert archive.puts == len(first.trimmed_items) == len(archive)
    again = builder.build({"history": list(history)}, max_tokens=200).section("history")
    assert archive.puts == len(first.trimmed_items)
    assert again.archived_ids == first.archived_ids
    grown = builder.build({"history": [*history, "turn 100"]}, max_tokens=200).section("history")
    assert archive.puts == len(grown.trimmed_items) == len(first.trimmed_items) + 1


def test_a_new_archive_object_gets_every_item_despite_the_memo() -> None:
    """Swapping builder.archive starts over: the new archive receives the trimmed items."""
    builder = ContextBuilder(tokenizer=CharTokenizer(), archive="memory://")
    sections = {"history": [f"turn {i}" for i in range(100)]}
    first = builder.build(sections, max_tokens=200).section("history")
    builder.archive = MemoryArchive()
    second = builder.build(sections, max_tokens=200).section("history")
    assert second.archived_ids == first.archived_ids
    assert [builder.archive.get(i).content for i in second.archived_ids] == second.trimmed_items
