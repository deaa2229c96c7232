"""The archive keeps every trimmed block whole; builds can send what they trim to it."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

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


def test_len_counts_distinct_blocks() -> None:
    """len() of either backend is the number of distinct blocks, not of puts."""
    for archive in (MemoryArchive(), SQLiteArchive(":memory:")):
        for _ in range(3):
            archive.put("x", tokens=1)
            archive.put("y", tokens=1)
        assert len(archive) == 2


def test_build_sends_what_it_trimmed_to_the_archive(archive_url: str) -> None:
    """Each section that lost items gets one block; kept plus archived is the whole section."""
    lines = [f"fact {i}" for i in range(30)]
    builder = ContextBuilder(tokenizer=CharTokenizer(), archive=archive_url)
    result = builder.build([Section(name="facts", content="\n".join(lines))], max_tokens=60)
    report = result.section("facts")
    assert report.status == "trimmed"
    assert report.archived_id is not None
    block = builder.archive.get(report.archived_id)  # type: ignore[union-attr]
    kept = result.text.split("\n")[1:]
    assert block.content + kept == lines
    assert block.tokens == len("\n".join(block.content))
    assert block.source == "facts"
    assert result.to_dict()["sections"][0]["archived_id"] == report.archived_id


def test_budget_indicator_is_fresh_and_counted_in_every_build() -> None:
    """The injected indicator shows the final count of the very text that contains it."""
    import re

    builder = ContextBuilder(preset="default", indicator=True, archive="memory://")
    sections = [Section(name="facts", content="\n".join(f"fact {i}" for i in range(400)))]
    for cap in (120, 500, 2000):
        result = builder.build(sections, max_tokens=cap)
        line = result.text.split("\n")[1]
        match = re.fullmatch(
            r"\[Context: ([\d,]+)/([\d,]+) tokens \((\d+)%\) \| (\d+) archived blocks available\]",
            line,
        )
        assert match is not None, line
        assert int(match.group(1).replace(",", "")) == result.tokens <= cap
        assert int(match.group(2).replace(",", "")) == cap
        assert result.section("budget").status == "full"
    assert match.group(4) == "2"  # two earlier builds archived their trimmed facts
