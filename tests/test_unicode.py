"""Text that is not valid Unicode (a lone surrogate, an emoji cut by a stream) is counted as
U+FFFD like tiktoken does, built, archived exactly and never crashes a path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctxbudget import Compactor, ContextBuilder, build_context, get_tokenizer

CUT = json.loads('"the user said \\ud83d and left"')  # a lone high surrogate


@pytest.fixture(params=["o200k_base", "cl100k_base", "hf", "approx"])
def spec(request: pytest.FixtureRequest, hf_tokenizer_json: Path) -> str:
    return f"hf:{hf_tokenizer_json}" if request.param == "hf" else str(request.param)


def test_every_tokenizer_counts_a_lone_surrogate_as_the_replacement_character(spec: str) -> None:
    """count() never raises on it, and equals the count of the text with U+FFFD in its place."""
    tok = get_tokenizer(spec)
    assert tok.count(CUT) == tok.count(CUT.replace("\ud83d", "\ufffd"))
    assert len(tok.encode(CUT)) == tok.count(CUT)


def test_builds_with_lone_surrogates_stay_within_the_cap_and_archive_exactly(
    spec: str, tmp_path: Path
) -> None:
    """A build keeps the text as given and archives what it trims byte for byte in SQLite
    (which refused such text with UnicodeEncodeError after all the building work)."""
    history = [f"{CUT} #{i}" for i in range(200)]
    builder = ContextBuilder(tokenizer=spec, archive=f"sqlite:///{tmp_path / 'a.db'}")
    result = builder.build({"history": history, "facts": CUT}, max_tokens=300)
    tok = get_tokenizer(spec)
    assert tok.count(result.text) == result.tokens <= 300
    assert "\ud83d" in result.text
    report = result.section("history")
    assert report.archived_id is not None
    assert builder.archive is not None
    assert [builder.archive.get(i).content for i in report.archived_ids] == report.trimmed_items
    builder.archive.close()


def test_compactor_archives_messages_with_lone_surrogates(tmp_path: Path) -> None:
    """Compaction of such messages into a SQLite archive loses nothing."""
    agent = Compactor(2000, keep_last_turns=1, archive=f"sqlite:///{tmp_path / 'c.db'}")
    sent = []
    for i in range(40):
        user = {"role": "user", "content": f"{CUT} question {i} " * 8}
        agent.step(user)
        reply = {"role": "assistant", "content": f"answer {i} \udc00"}
        agent.add(reply)
        sent += [user, reply]
    assert agent.blocks
    archived = [m for b in agent.blocks for m in agent.expand(b["id"])]
    assert archived + agent.recent == sent
    agent.archive.close()


def test_plain_build_text_is_untouched() -> None:
    """Nothing is replaced in the built text itself: the caller's data comes back as given."""
    result = build_context({"facts": CUT}, max_tokens=100)
    assert result.text.endswith(CUT)
