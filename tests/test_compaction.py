"""Compaction in agent loops: never over the window, nothing lost, checkpoints round-trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import corpus
from ctxbudget import (
    BudgetError,
    Compaction,
    Compactor,
    ConfigurationError,
    LLMSummarizer,
    budget_indicator,
    get_tokenizer,
    message_tokens,
)
from ctxbudget.testing import CharTokenizer

TOK = get_tokenizer("o200k_base")


def request_tokens(messages: list[dict[str, Any]]) -> int:
    return 3 + sum(message_tokens(m, TOK) for m in messages)


def test_budget_indicator_renders_the_reference_format() -> None:
    """The indicator reads like the reference example."""
    assert budget_indicator(12_450, 16_000, 3) == (
        "[Context: 12,450/16,000 tokens (78%) | 3 archived blocks available]"
    )
    assert budget_indicator(5, 10, 0, "{used}/{cap} {percent:.1f}% {archived}") == "5/10 50.0% 0"


def turns(count: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(user, assistant) pairs of real text, messages over 3,000 tokens left out."""
    pairs = []
    for conversation in corpus.conversations():
        msgs = [m for m in conversation if m["content"].strip() and m["role"] != "system"]
        for user, assistant in zip(msgs[::2], msgs[1::2], strict=False):
            if user["role"] != "user" or assistant["role"] != "assistant":
                continue
            if TOK.count(user["content"]) + TOK.count(assistant["content"]) > 3000:
                continue
            pairs.append((dict(user), dict(assistant)))
            if len(pairs) == count:
                return pairs
    return pairs


@pytest.mark.data
def test_200_turn_agent_loop_never_exceeds_a_16k_window(shared_data: Path) -> None:
    """Every request fits 16k, compaction happens before overflow, every archived block comes
    back byte for byte, and a checkpoint/recover round trip gives the same next prompt."""
    compactions: list[Compaction] = []
    agent = Compactor(16_000, summary_tokens=800, indicator=True, on_compaction=compactions.append)
    system = {"role": "system", "content": "You are a careful assistant. Answer briefly."}
    agent.add(system)
    sent: list[dict[str, Any]] = []
    peak = 0
    for user, assistant in turns(200):
        request = agent.step(user)
        tokens = request_tokens(request)
        assert tokens <= 16_000
        peak = max(peak, tokens)
        assert request[0] is system
        assert request[-2] is user  # the newest turn is always in the request
        indicator = [m for m in request if str(m.get("content", "")).startswith("[Context: ")]
        assert indicator == [request[-1]]  # last: it never changes the cached prefix
        assert "/16,000 tokens" in indicator[0]["content"]
        agent.add(assistant)
        sent += [user, assistant]
    assert len(compactions) >= 3
    assert all(c.fill_after < c.fill_before for c in compactions)
    assert all(c.fill_before < 1.0 for c in compactions)  # compacted before overflowing
    # lossless: archived blocks plus the recent turns are every message, in order, exactly
    archived = [m for b in agent.blocks for m in agent.expand(b["id"])]
    assert archived + list(agent.recent) == sent
    # checkpoint -> JSON -> recover yields the same next prompt
    state = json.loads(json.dumps(agent.checkpoint()))
    again = Compactor.recover(state, archive=agent.archive)
    probe = {"role": "user", "content": "What did we decide about the loader?"}
    assert again.step(dict(probe)) == agent.step(dict(probe))
    assert TOK.count(agent.summary) <= 800


def conversation(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        out += [
            {"role": "user", "content": f"question {i} " + "q" * 40},
            {"role": "assistant", "content": f"answer {i} " + "a" * 40},
        ]
    return out


def test_compaction_keeps_the_last_turns_and_tool_pairs_whole() -> None:
    """The last N turns stay; a tool call and its result are never split by the cut."""
    agent = Compactor(2_000, keep_last_turns=2, summary_tokens=100, tokenizer=CharTokenizer())
    msgs = conversation(5)
    msgs[7:7] = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "t1", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "result"},
    ]
    agent.add(*msgs)
    result = agent.compact()
    assert result is not None
    assert [m["content"] for m in agent.recent if m["role"] == "user"] == [
        "question 3 " + "q" * 40,
        "question 4 " + "q" * 40,
    ]
    archived = agent.expand(result.block_id)
    roles = [m["role"] for m in archived]
    assert ("tool" in roles) == any(m.get("tool_calls") for m in archived)
    assert archived + agent.recent == msgs


def test_nothing_to_compact_within_the_kept_turns() -> None:
    """With no more turns than keep_last_turns, compact() does nothing."""
    agent = Compactor(2_000, keep_last_turns=4, tokenizer=CharTokenizer())
    agent.add(*conversation(3))
    assert agent.compact() is None
    assert agent.blocks == []


def test_consecutive_compactions_keep_the_summary_within_budget() -> None:
    """Summaries of summaries stay within their budget, across many compactions."""
    agent = Compactor(1_500, keep_last_turns=1, summary_tokens=120, tokenizer=CharTokenizer())
    for i in range(40):
        agent.step(
            {"role": "user", "content": f"fact {i}: the loader handles port {i} well."},
        )
        agent.add({"role": "assistant", "content": f"Noted fact {i} about port {i}."})
        assert len(agent.summary) <= 120
    assert len(agent.blocks) >= 2  # at least one summary of a summary
    assert agent.summary


def test_a_summarizer_that_raises_falls_back_to_the_offline_one() -> None:
    """A failing summarizer does not stop the loop: the offline summarizer writes the summary,
    the receipt is partial and its note names the error, and the originals are archived."""

    def broken(prompt: str) -> str:
        raise RuntimeError("summarizer down")

    receipts: list[Compaction] = []
    agent = Compactor(
        600,
        keep_last_turns=1,
        summarizer=LLMSummarizer(broken),
        tokenizer=CharTokenizer(),
        on_compaction=receipts.append,
    )
    msgs = conversation(3)
    agent.add(*msgs)
    result = agent.compact()
    assert result is not None
    assert result.partial
    assert result.strategies == ("offline_summary",)
    assert "RuntimeError: summarizer down" in result.steps[0].note
    assert receipts == [result]
    assert "question 0" in agent.summary
    assert agent.expand(result.block_id) + agent.recent == msgs


@pytest.mark.parametrize(
    ("reply", "why"),
    [("", "left nothing"), (None, "must return str"), ("word " * 5_000, "left nothing")],
    ids=["nothing", "not-str", "too-much"],
)
def test_a_summarizer_that_returns_nothing_or_too_much_is_contained(
    reply: str | None, why: str
) -> None:
    """Nothing, a non-str, or one line longer than the whole budget: the offline summarizer
    writes the summary (the note says why), within its budget; the loop continues."""
    agent = Compactor(
        900,
        keep_last_turns=1,
        summary_tokens=150,
        summarizer=LLMSummarizer(lambda prompt: reply),  # type: ignore[arg-type,return-value]
        tokenizer=CharTokenizer(),
    )
    agent.add(*conversation(4))
    result = agent.compact()
    assert result is not None
    assert result.partial
    assert why in result.steps[0].note
    assert 0 < len(agent.summary) <= 150
    for i in range(20):
        request = agent.step({"role": "user", "content": f"more {i} " * 10})
        assert 3 + sum(message_tokens(m, CharTokenizer()) for m in request) <= 900
        agent.add({"role": "assistant", "content": "ok"})


def test_a_turn_larger_than_the_free_room_is_archived_not_lost() -> None:
    """When recent turns alone overflow, the oldest are dropped from the request and archived."""
    agent = Compactor(500, keep_last_turns=3, summary_tokens=50, tokenizer=CharTokenizer())
    msgs = conversation(3)
    agent.add(*msgs)
    request = agent.prompt()
    assert 3 + sum(message_tokens(m, CharTokenizer()) for m in request) <= 500
    archived = [m for b in agent.blocks for m in agent.expand(b["id"])]
    assert archived + agent.recent == msgs


def test_a_message_larger_than_the_window_is_clamped_and_archived() -> None:
    """A single message larger than the window is sent clamped (its head and tail, a marker
    with the archive id), and the original comes back whole from the archive."""
    agent = Compactor(600, tokenizer=CharTokenizer())
    text = "".join(f"line {i:05d}\n" for i in range(2_000))
    request = agent.step({"role": "user", "content": text})
    assert 3 + sum(message_tokens(m, CharTokenizer()) for m in request) <= 600
    sent = request[-1]["content"]
    assert sent.startswith("line 00000")
    assert sent.endswith("line 01999\n")
    block = next(b for b in agent.blocks if b["description"].startswith("clamped"))
    assert f"archived block {block['id']}" in sent
    assert agent.expand(block["id"]) == [{"role": "user", "content": text}]


def test_a_window_below_the_smallest_workable_one_is_refused_with_the_numbers() -> None:
    """The constructor names the smallest workable window and what it is made of."""
    # one token per character: reply priming 3; summary message 3 + len("system") 6 + headers
    # 81 + summary 20 + index 48 + join slack 4 = 162; the newest unit, two messages clamped as
    # far as they go: 2 x (24 kept + the marker at most, 78 characters + a 32-digit id + 2 =
    # 112, + 3 + len("assistant") 9) = 296. 3 + 162 + 296 = 461.
    with pytest.raises(ConfigurationError, match=r"window_tokens=100 is below .* 461 tokens"):
        Compactor(100, summary_tokens=20, tokenizer=CharTokenizer())
    with pytest.raises(ConfigurationError, match="summary_tokens=1000"):
        Compactor(900, summary_tokens=1000)


def test_system_messages_that_leave_no_room_are_refused() -> None:
    """Pins are budgeted: system messages that leave less than a turn's minimum raise."""
    agent = Compactor(600, tokenizer=CharTokenizer())
    with pytest.raises(BudgetError, match="system messages of"):
        agent.add({"role": "system", "content": "x" * 500})
    assert agent.system == []


def test_recover_refuses_foreign_data() -> None:
    """Only version 1 and 2 checkpoints are accepted."""
    with pytest.raises(ConfigurationError, match="checkpoint"):
        Compactor.recover({"version": 9}, archive="memory://")


def test_datetime_and_iso_timestamps_compact_archive_and_checkpoint() -> None:
    """Messages stamped with datetimes (aware, naive) or ISO strings compact, archive byte for
    byte, and checkpoint to JSON and back (they failed every compaction before)."""
    import json
    from datetime import datetime, timedelta, timezone

    agent = Compactor(3000, keep_last_turns=1, summary_tokens=100, tokenizer=CharTokenizer())
    sent = []
    for i in range(30):
        zone = timezone(timedelta(hours=2)) if i % 2 else None
        user = {
            "role": "user",
            "content": f"question {i} " * 12,
            "timestamp": datetime(2026, 1, 1, i % 24, tzinfo=zone),
        }
        reply = {
            "role": "assistant",
            "content": f"answer {i}",
            "timestamp": f"2026-01-02T00:{i:02d}",
        }
        agent.step(user)
        agent.add(reply)
        sent += [user, reply]
    assert agent.blocks
    archived = [m for b in agent.blocks for m in agent.expand(b["id"])]
    assert archived + agent.recent == sent
    assert all(b["start"] is None or b["start"].endswith("+00:00") for b in agent.blocks)
    state = json.loads(json.dumps(agent.checkpoint()))
    again = Compactor.recover(state, archive=agent.archive, tokenizer=CharTokenizer())
    assert again.recent == agent.recent
    assert again.prompt() == agent.prompt()
