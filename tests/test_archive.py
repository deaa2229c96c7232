"""The archive keeps every trimmed block whole; builds can send what they trim to it."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from ctxbudget import (
    ArchiveError,
    ConfigurationError,
    ContextBuilder,
    Section,
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
