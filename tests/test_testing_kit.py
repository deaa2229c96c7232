"""The snapshot-testing kit: render_snapshot's stable text, the syrupy extensions, and the
pytest plugin, run by pytest on a small user project (pytester)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from ctxbudget import BuiltContext, Compaction, Compactor, Section, build_context
from ctxbudget.testing import (
    CharTokenizer,
    CompactorRequest,
    WordTokenizer,
    compactor_step,
    render_snapshot,
)
from ctxbudget.testing.syrupy import ContextSnapshotExtension

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]

SECTIONS = [
    Section(
        name="facts",
        content=["Maya lives in Lisbon.", "She takes her tea without sugar."],
        weight=3,
        required=True,
    ),
    Section(
        name="history",
        content=[f"turn {i}: we talked about the garden and the weather" for i in range(12)],
        weight=2,
    ),
    Section(name="notes", content="A long note that only fits when there is room to spare " * 4),
]


def _build() -> BuiltContext:
    return build_context(SECTIONS, max_tokens=90, tokenizer=WordTokenizer())


def _conversation(compactor: Compactor, turns: int) -> CompactorRequest:
    request = None
    for i in range(turns):
        request = compactor_step(
            compactor,
            {"role": "user", "content": f"question {i} " * 5},
            {"role": "assistant", "content": f"answer {i} " * 6},
        )
    assert request is not None
    return request


# -- render_snapshot --------------------------------------------------------------------------


def test_a_build_renders_as_header_table_and_text() -> None:
    """The header gives cap, total and tokenizer; the table one row per section in the
    build's order, with lower bounds marked; the text follows verbatim between markers."""
    result = _build()
    text = render_snapshot(result)
    lines = text.split("\n")
    assert lines[:3] == [
        "ctxbudget BuiltContext",
        f"cap: 90 tokens  total: {result.tokens} tokens  tokenizer: test-word",
        "sections: 1 full, 2 trimmed",
    ]
    assert lines[4].split() == [
        "section", "status", "weight", "required", "demanded", "allocated", "used", "kept",
        "trimmed", "cut", "reduced",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in lines[5:8]}
    history = result.section("history")
    assert rows["facts"][:4] == ["facts", "full", "3", "yes"]
    assert rows["history"] == [
        "history", "trimmed", "2", "-",
        str(history.tokens_demanded) if history.demand_exact else f">={history.tokens_demanded}",
        str(history.tokens_allocated), str(history.tokens_used), str(history.items_kept),
        str(history.items_trimmed), "-", "-",
    ]  # fmt: skip
    assert rows["notes"][1] == "trimmed"
    assert rows["notes"][-2:] == ["yes", "-"]  # its one item was cut
    assert [line.split()[0] for line in lines[5:8]] == [r.name for r in result.sections]
    start = lines.index("----- text -----")
    assert "\n".join(lines[start + 1 : lines.index("----- end of text -----")]) == result.text
    assert text.endswith("----- end of text -----\n")
    assert all(line == line.rstrip() for line in lines[: start - 1])


def test_line_endings_weights_and_local_paths_are_normalised() -> None:
    """CRLF and CR become LF, a weight prints without float noise, and a tokenizer named by a
    local path shows only the file's name."""
    result = build_context(
        [Section(name="a", content="one\r\ntwo\rthree", weight=0.1 + 0.2)],
        tokenizer=CharTokenizer(),
    )
    moved = BuiltContext(
        text=result.text,
        tokens=result.tokens,
        max_tokens=None,
        tokenizer="hf:/home/someone/models/tokenizer.json",
        approximate=True,
        sections=result.sections,
    )
    text = render_snapshot(moved)
    assert "\r" not in text
    assert "one\ntwo\nthree\n----- end of text -----" in text
    assert "cap: none" in text
    assert "tokenizer: hf:tokenizer.json (approximate)" in text
    assert "/home" not in text
    row = text.split("\n")[5].split()
    assert row[:3] == ["a", "full", "0.3"]


def test_a_compactor_request_renders_messages_and_compaction_steps() -> None:
    """compactor_step returns the request with the receipts of the compactions it ran; the
    user's on_compaction still sees them and is back in place afterwards."""
    seen: list[Compaction] = []
    compactor = Compactor(
        1500, tokenizer=CharTokenizer(), keep_last_turns=1, on_compaction=seen.append
    )
    requests = [_conversation(compactor, 1) for _ in range(12)]
    compacted = [r for r in requests if r.compactions]
    assert compacted
    assert [c for r in requests for c in r.compactions] == seen
    assert compactor.on_compaction == seen.append
    request = compacted[0]
    assert request.total == 3 + sum(request.tokens) <= 1500
    text = render_snapshot(request)
    lines = text.split("\n")
    assert lines[0] == "ctxbudget Compactor request"
    fill = f"{100 * request.total / 1500:.1f}%"
    assert lines[1] == f"window: 1500 tokens  total: {request.total} tokens ({fill})  " + (
        "tokenizer: test-char"
    )
    assert lines[2] == "messages: 3 (1 assistant, 1 system, 1 user)"
    assert [line.split() for line in lines[5:8]] == [
        [str(i), m["role"], str(t)]
        for i, (m, t) in enumerate(zip(request.messages, request.tokens, strict=True), start=1)
    ]
    receipt = request.compactions[0]
    assert "compactions: 1" in lines
    assert (
        f"1. {receipt.trigger}: {receipt.tokens_before} -> {receipt.tokens_after} tokens "
        f"(freed {receipt.freed}), {receipt.messages} messages archived"
    ) in text
    assert re.search(
        rf"^   summarize +{receipt.tokens_before} +{receipt.tokens_after} ", text, re.M
    )
    assert "----- message 1: system -----\nSummary of the earlier conversation:" in text
    assert receipt.block_id not in text  # content ids are stable, but noise in a diff


def test_message_parts_and_extra_keys_render_sorted() -> None:
    """A message's other keys print sorted as JSON; text parts as text, other parts as JSON."""
    messages = (
        {"role": "user", "name": "maya", "content": [{"type": "text", "text": "hi\r\nthere"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f"}}],
        },
    )
    request = CompactorRequest(messages, (5, 9), window_tokens=100, tokenizer="test-char")
    text = render_snapshot(request)
    assert '----- message 1: user -----\nname: "maya"\nhi\nthere\n' in text
    assert (
        '----- message 2: assistant -----\ntool_calls: [{"function": {"name": "f"}, '
        '"id": "c1", "type": "function"}]\n----- end of messages -----\n'
    ) in text
    assert "compactions: 0" in text
    with pytest.raises(ValueError, match="2 messages but 1 token counts"):
        CompactorRequest(messages, (5,), window_tokens=100, tokenizer="test-char")


@pytest.mark.parametrize("value", [[{"role": "user", "content": "hi"}], "text", None])
def test_other_types_raise_one_line_type_error_naming_them(value: object) -> None:
    """A list of messages, a string or None is refused with the type in the message."""
    with pytest.raises(TypeError) as info:
        render_snapshot(value)
    message = str(info.value)
    assert "\n" not in message
    assert message.endswith(f"not builtins.{type(value).__qualname__}")
    assert "compactor_step" in message


def test_the_text_is_identical_in_fresh_processes_with_different_hash_seeds() -> None:
    """Two interpreters with different PYTHONHASHSEED render the same build and request,
    byte for byte, and the same as this process."""
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        from test_testing_kit import _build, _conversation
        from ctxbudget import Compactor
        from ctxbudget.testing import CharTokenizer, render_snapshot
        compactor = Compactor(1500, tokenizer=CharTokenizer(), keep_last_turns=1)
        sys.stdout.write(render_snapshot(_build()))
        sys.stdout.write(render_snapshot(_conversation(compactor, 12)))
        """
    )
    outputs = []
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", script, str(Path(__file__).parent)],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.append(done.stdout)
    here = render_snapshot(_build()) + render_snapshot(
        _conversation(Compactor(1500, tokenizer=CharTokenizer(), keep_last_turns=1), 12)
    )
    assert outputs[0] == outputs[1] == here.encode()


def test_a_build_matches_its_snapshot(snapshot: SnapshotAssertion) -> None:
    """Our own snapshot of a rendered build, stored by the extension as a .txt file."""
    assert _build() == snapshot.use_extension(ContextSnapshotExtension)


def test_a_compactor_request_matches_its_snapshot(snapshot: SnapshotAssertion) -> None:
    """Our own snapshot of a rendered request after compactions."""
    request = _conversation(Compactor(1500, tokenizer=CharTokenizer(), keep_last_turns=1), 9)
    assert request == snapshot.use_extension(ContextSnapshotExtension)
