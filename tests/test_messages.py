"""fit_messages: chat history within a budget, tool pairs kept together, newest turn kept."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from benchmarks import corpus
from ctxbudget import (
    BudgetError,
    ConfigurationError,
    build_context,
    fit_messages,
    get_tokenizer,
    history_items,
    message_tokens,
)
from ctxbudget.testing import CharTokenizer

CHAR = CharTokenizer()


def test_message_cost_follows_the_published_rule() -> None:
    """3 per message + role + content; a name adds 1 + its tokens (OpenAI cookbook rule)."""
    assert message_tokens({"role": "user", "content": "hello"}, CHAR) == 3 + 4 + 5
    assert (
        message_tokens({"role": "user", "content": "hi", "name": "maya"}, CHAR) == 3 + 4 + 2 + 1 + 4
    )
    parts = {"role": "user", "content": [{"type": "text", "text": "ab"}, {"type": "image_url"}]}
    assert message_tokens(parts, CHAR) == 3 + 4 + 2 + 1445  # an image of unknown size: bound


def test_o200k_cost_matches_tiktoken_counted_by_hand() -> None:
    """With o200k, the cost is the overhead plus tiktoken's own counts."""
    enc = get_tokenizer("o200k_base")
    message = {"role": "assistant", "content": "The partition window is computed in UTC."}
    assert message_tokens(message) == 3 + enc.count("assistant") + enc.count(message["content"])


def tool_exchange(call_id: str) -> list[dict[str, Any]]:
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "search", "arguments": '{"q": "dst"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "3 results"},
    ]


def test_everything_fits_keeps_everything() -> None:
    """Within budget, every message is kept in order and nothing is dropped."""
    msgs = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]
    out = fit_messages(msgs, 1000, tokenizer=CHAR)
    assert out.messages == msgs
    assert out.dropped == []
    assert out.tokens == 3 + (3 + 6 + 3) + (3 + 4 + 1) + (3 + 9 + 1)


def test_oldest_turns_are_dropped_first_and_system_is_kept() -> None:
    """The newest turns are kept, the system message always, the report lists the dropped."""
    msgs = [{"role": "system", "content": "S"}]
    for i in range(10):
        msgs += [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
    budget = 3 + (3 + 6 + 1) + 2 * ((3 + 4 + 2) + (3 + 9 + 2)) + 4  # room for 2 turns, not 3
    out = fit_messages(msgs, budget, tokenizer=CHAR)
    assert [m["content"] for m in out.messages] == ["S", "q8", "a8", "q9", "a9"]
    assert out.tokens <= budget
    assert len(out.dropped) == 16
    assert out.dropped[0]["content"] == "q0"


def test_tool_call_and_its_results_are_kept_or_dropped_together() -> None:
    """An assistant message with tool_calls never loses its tool results, nor they it."""
    msgs = [
        {"role": "user", "content": "find it"},
        *tool_exchange("c1"),
        {"role": "assistant", "content": "found"},
        {"role": "user", "content": "thanks"},
    ]
    full = fit_messages(msgs, 10_000, tokenizer=CHAR).tokens
    for budget in range(0, full + 1):
        try:
            out = fit_messages(msgs, budget, tokenizer=CHAR)
        except BudgetError:
            continue
        roles = [m["role"] for m in out.messages]
        assert ("tool" in roles) == any(m.get("tool_calls") for m in out.messages)
        assert out.messages[0]["role"] == "user"
        assert out.messages[-1]["content"] == "thanks"
        assert out.tokens <= budget


def test_newest_turn_and_system_over_budget_raise_with_numbers() -> None:
    """When the system prompt and newest turn alone do not fit, the error says by how much."""
    msgs = [{"role": "system", "content": "x" * 50}, {"role": "user", "content": "y" * 50}]
    with pytest.raises(BudgetError, match="cost 119 tokens, over the budget of 100"):
        fit_messages(msgs, 100, tokenizer=CHAR)


@pytest.mark.parametrize("bad", [{"content": "no role"}, "text", {"role": 3}])
def test_malformed_messages_are_named(bad: object) -> None:
    """A message without a string role is refused, the value shown."""
    with pytest.raises(ConfigurationError, match="role"):
        fit_messages([bad], 100)  # type: ignore[list-item]


def with_tool_turns(messages: list[dict[str, str]], rng: random.Random) -> list[dict[str, Any]]:
    """A real conversation with synthetic tool exchanges inserted after some user turns."""
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        out.append(dict(message))
        if message["role"] == "user" and rng.random() < 0.4:
            out += tool_exchange(f"call-{i}")
    return out


@pytest.mark.data
def test_real_conversations_fit_every_budget_without_orphans(shared_data: Path) -> None:
    """Every real conversation (with tool turns added) fits 4 budgets, never orphaning a tool
    result, keeping the system message and the newest turn."""
    tok = get_tokenizer("o200k_base")
    rng = random.Random(7)
    for conversation in corpus.conversations():
        msgs = with_tool_turns([m for m in conversation if m["content"].strip()], rng)
        if not msgs:
            continue
        for budget in (512, 2048, 8192, 32_768):
            try:
                out = fit_messages(msgs, budget, tokenizer=tok)
            except BudgetError:
                newest = msgs[-1]
                systems = [m for m in msgs if m["role"] == "system"]
                alone = 3 + sum(message_tokens(m, tok) for m in [*systems, newest])
                assert alone > budget  # only when the newest turn itself cannot fit
                continue
            assert out.tokens <= budget
            assert out.tokens == 3 + sum(message_tokens(m, tok) for m in out.messages)
            kept_ids = {m.get("tool_call_id") for m in out.messages if m["role"] == "tool"}
            call_ids = {c["id"] for m in out.messages for c in m.get("tool_calls") or ()}
            assert kept_ids == call_ids
            assert all(m in out.messages for m in msgs if m["role"] == "system")
            assert out.messages[-1] is msgs[-1] or msgs[-1]["role"] == "tool"
            assert len(out.messages) + len(out.dropped) == len(msgs)


def test_history_items_keep_tool_exchanges_as_one_item() -> None:
    """Each message is an item; a tool call and its results are one item; system is left out."""
    msgs = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "find it"},
        *tool_exchange("c1"),
        {"role": "assistant", "content": "found"},
    ]
    assert history_items(msgs) == [
        "user: find it",
        'assistant: [tool call search({"q": "dst"})]\ntool: 3 results',
        "assistant: found",
    ]


def test_history_as_a_section_trims_at_message_boundaries() -> None:
    """As build_context content, history loses whole messages (and whole tool exchanges)."""
    msgs = []
    for i in range(20):
        msgs += [
            {"role": "user", "content": f"question {i}"},
            *tool_exchange(f"c{i}"),
            {"role": "assistant", "content": f"answer {i}\nwith a second line"},
        ]
    items = history_items(msgs)
    result = build_context({"interaction_buffer": items}, tokenizer=CHAR, max_tokens=300)
    body = result.text.split("\n", 1)[1]
    kept = result.section("interaction_buffer").items_kept
    assert body == "\n".join(items[-kept:])
    assert result.tokens <= 300


def test_tool_call_with_null_function_is_counted_not_a_crash() -> None:
    """A tool call whose function is null (seen from some clients) costs its 3 overhead
    tokens and keeps its results paired; it crashed with AttributeError before."""
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "function": None}]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]
    fitted = fit_messages(messages, 1000, tokenizer=CHAR)
    assert fitted.messages == messages
    assert fitted.tokens == 3 + (3 + 4 + 2) + (3 + 9 + 0 + 3) + (3 + 4 + 4)
    assert history_items(messages)[-1] == "assistant: [tool call ()]\ntool: done"
