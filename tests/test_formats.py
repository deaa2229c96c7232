"""Every provider's message format through the one core: fitting, counting, pairing, repair.

Real ShareGPT conversations are converted to each format with synthetic tool calls (parallel
ones too), tool results and images, then fitted at several budgets.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ctxbudget import BudgetError, ConfigurationError, count_prompt, fit_messages
from ctxbudget.messages import detect_format, get_format, history_items, repair_messages
from ctxbudget.messages._units import Units

FORMATS = ["openai", "responses", "anthropic", "gemini", "langchain"]
PNG = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _tool_exchange(fmt: str, i: int, n_calls: int, result: str) -> list[Any]:
    ids = [f"call_{i}_{k}" for k in range(n_calls)]
    args = [{"query": f"item {i}", "k": k} for k in range(n_calls)]
    if fmt == "openai":
        calls = [
            {"id": c, "type": "function", "function": {"name": "search", "arguments": repr(a)}}
            for c, a in zip(ids, args, strict=True)
        ]
        return [
            {"role": "assistant", "content": None, "tool_calls": calls},
            *({"role": "tool", "tool_call_id": c, "content": result} for c in ids),
        ]
    if fmt == "responses":
        return [
            {
                "type": "reasoning",
                "id": f"rs_{i}",
                "summary": [{"type": "summary_text", "text": "look it up"}],
            },
            *(
                {"type": "function_call", "call_id": c, "name": "search", "arguments": repr(a)}
                for c, a in zip(ids, args, strict=True)
            ),
            *({"type": "function_call_output", "call_id": c, "output": result} for c in ids),
        ]
    if fmt == "anthropic":
        return [
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check."},
                    *(
                        {"type": "tool_use", "id": c, "name": "search", "input": a}
                        for c, a in zip(ids, args, strict=True)
                    ),
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": c, "content": result} for c in ids
                ],
            },
        ]
    if fmt == "gemini":
        return [
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"id": c, "name": "search", "args": a}}
                    for c, a in zip(ids, args, strict=True)
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"id": c, "name": "search", "response": {"text": result}}}
                    for c in ids
                ],
            },
        ]
    from langchain_core.messages import AIMessage, ToolMessage

    return [
        AIMessage("", tool_calls=[
            {"id": c, "name": "search", "args": a} for c, a in zip(ids, args, strict=True)]),
        *(ToolMessage(result, tool_call_id=c) for c in ids),
    ]  # fmt: skip


def _message(fmt: str, role: str, text: str, image: bool = False) -> Any:  # noqa: PLR0911
    if fmt in ("openai", "responses"):
        if image and fmt == "openai":
            return {
                "role": role,
                "content": [
                    {"type": "text", "text": text},
                    {"type": "image_url", "image_url": {"url": "https://x/i.png", "detail": "low"}},
                ],
            }
        if image:
            return {
                "role": role,
                "content": [
                    {"type": "input_text", "text": text},
                    {"type": "input_image", "image_url": "https://x/i.png", "detail": "low"},
                ],
            }
        return {"role": role, "content": text}
    if fmt == "anthropic":
        if image:
            return {
                "role": role,
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                    {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}},
                ],
            }
        return {"role": role, "content": text}
    if fmt == "gemini":
        parts: list[Any] = [{"text": text}]
        if image:
            parts.append({"inlineData": {"mimeType": "image/png", "data": PNG}})
        return {"role": "model" if role == "assistant" else "user", "parts": parts}
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    cls = {"user": HumanMessage, "assistant": AIMessage, "system": SystemMessage}[role]
    return cls(text)  # fmt: skip


def convert(conversation: list[dict[str, str]], fmt: str, rng: random.Random) -> list[Any]:
    """A ShareGPT conversation in ``fmt``, with tool exchanges after some user turns."""
    out: list[Any] = []
    if fmt not in ("anthropic", "gemini"):
        out.append(_message(fmt, "system", "You are a helpful assistant."))
    for i, m in enumerate(conversation):
        if m["role"] not in ("user", "assistant"):
            continue
        out.append(_message(fmt, m["role"], m["content"], image=rng.random() < 0.05))
        if m["role"] == "user" and rng.random() < 0.3:
            out += _tool_exchange(fmt, i, rng.randint(1, 3), f"result for {i}: " * 20)
    return out


@pytest.fixture(scope="module")
def conversations(shared_data: Path) -> list[list[dict[str, str]]]:
    from benchmarks import corpus

    convs = [c for c in corpus.conversations() if len(c) >= 6]
    return convs[:40]


def assert_well_paired(kept: list[Any], fmt_name: str) -> None:
    """No unit of the kept history answers a call it does not hold; only the newest unit may
    hold calls without results; the history does not start with a tool result."""
    fmt = get_format(fmt_name)
    units = list(Units(kept, fmt).newest_first())
    for n, unit in enumerate(units):
        assert not Units(kept, fmt).orphans(unit), f"orphan results in {unit}"
        if n > 0:
            assert not Units(kept, fmt).unanswered(unit), f"calls without results in {unit}"
    if units:
        assert fmt.role(kept[units[-1].start]) != "tool"


@pytest.mark.data
@pytest.mark.parametrize("fmt", FORMATS)
def test_real_conversations_fit_every_budget_in_every_format(
    fmt: str, conversations: list[list[dict[str, str]]]
) -> None:
    rng = random.Random(11)
    for conversation in conversations:
        messages = convert(conversation, fmt, rng)
        snapshot = [copy.deepcopy(m) for m in messages] if fmt != "langchain" else None
        total = count_prompt(messages, format=fmt)
        if any(get_format(fmt).looks_like(m) for m in messages):
            assert detect_format(messages).name == fmt
        for budget in (total, total // 2, total // 5, 600):
            try:
                fitted = fit_messages(messages, budget, format=fmt)
            except BudgetError:
                assert budget < total  # only when the newest turn alone is too big
                continue
            assert fitted.format == fmt
            assert fitted.tokens <= budget
            assert fitted.tokens == count_prompt(fitted.messages, format=fmt)
            assert fitted.repairs == []
            ids = {id(m) for m in messages}
            assert all(id(m) in ids for m in fitted.messages)  # the original objects
            assert fitted.messages[-1] is messages[-1]  # the newest turn is kept
            assert len(fitted.messages) + len(fitted.dropped) == len(messages)
            assert_well_paired(fitted.messages, fmt)
            if budget >= total:
                assert fitted.dropped == []
        if snapshot is not None:
            assert messages == snapshot  # untouched


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_tool_result_of_n_tokens_adds_at_least_n(fmt: str) -> None:
    from ctxbudget import get_tokenizer

    result = "the quick brown fox jumps over the lazy dog " * 25
    n = get_tokenizer("o200k_base").count(result)
    base = [_message(fmt, "user", "find it")]
    small = base + _tool_exchange(fmt, 1, 1, "")
    big = base + _tool_exchange(fmt, 1, 1, result)
    assert count_prompt(big, format=fmt) - count_prompt(small, format=fmt) >= n


def test_anthropic_tool_use_and_result_are_counted_and_paired() -> None:
    """Before: tool_use input and tool_result content counted 0 tokens, and fitting could
    return a history starting with a tool_result whose tool_use was dropped."""
    inp = {"query": "weather in Paris and Lyon", "details": ["wind", "rain"] * 40}
    messages = [
        {"role": "user", "content": "What is the weather?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "tu1", "name": "weather", "input": inp}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "tu1", "content": "sunny " * 400}]},
        {"role": "assistant", "content": "It is sunny."},
    ]  # fmt: skip
    total = count_prompt(messages)
    assert total > 600
    fitted = fit_messages(messages, total - 50)
    assert fitted.format == "anthropic"
    assert fitted.estimated
    assert all(
        not (isinstance(m["content"], list) and m["content"][0]["type"] == "tool_result")
        for m in fitted.messages[:1]
    )
    assert_well_paired(fitted.messages, "anthropic")


def test_responses_items_are_understood() -> None:
    """Before: 'a message must be a mapping with a string role'."""
    items = [
        {"role": "user", "content": "hi"},
        *_tool_exchange("responses", 0, 2, "out"),
        {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "done"}]},
    ]  # fmt: skip
    fitted = fit_messages(items, 10_000)
    assert fitted.format == "responses"
    assert fitted.dropped == []
    tight = fit_messages(items, fitted.tokens - 1)
    assert tight.messages == [items[-1]]  # reasoning, calls and outputs dropped together


def test_pins_are_never_dropped_and_too_many_pins_say_how_many() -> None:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " * 30,
                 "id": f"m{i}"} for i in range(40)]  # fmt: skip
    fitted = fit_messages(messages, 400, pinned=["m0", 3])
    assert messages[0] in fitted.messages
    assert messages[3] in fitted.messages
    assert fitted.tokens <= 400
    with pytest.raises(BudgetError, match=r"40 pinned messages alone cost \d+ tokens"):
        fit_messages(messages, 400, pinned=range(40))
    with pytest.raises(ConfigurationError, match="m99"):
        fit_messages(messages, 400, pinned=["m99"])


class CountingTokenizer:
    """o200k, recording every text it counts."""

    def __init__(self) -> None:
        from ctxbudget import get_tokenizer

        self.inner = get_tokenizer("o200k_base")
        self.name = f"counting-{id(self)}"
        self.texts: list[str] = []

    def count(self, text: str) -> int:
        self.texts.append(text)
        return self.inner.count(text)

    def encode(self, text: str) -> list[int]:
        return self.inner.encode(text)

    def decode(self, ids: Any) -> str:
        return self.inner.decode(ids)


@pytest.mark.parametrize("fmt", ["openai", "anthropic"])
def test_fitting_counts_only_what_can_reach_the_window(fmt: str) -> None:
    """Before: every message of the history was counted first (511x one encode at 10M)."""
    rng = random.Random(3)
    history = [_message(fmt, "user" if i % 2 == 0 else "assistant", f"message {i} " * 50)
               for i in range(5000)]  # fmt: skip
    tok = CountingTokenizer()
    fitted = fit_messages(history, 2000, format=fmt, tokenizer=tok)
    kept = len(fitted.messages)
    assert kept < 40
    assert len(tok.texts) <= 3 * (kept + 2)  # role + content per message, one past the window
    del rng


def test_history_items_are_formatted_only_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: every message was formatted (134 ms at 10M tokens) even when the build kept a
    few; now only the items read are."""
    fmt = get_format("openai")
    formatted: list[Any] = []
    original = type(fmt).text
    monkeypatch.setattr(type(fmt), "text", lambda self, m: formatted.append(m) or original(self, m))
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i} " * 20}
               for i in range(1000)]  # fmt: skip
    items = history_items(history)
    assert formatted == []
    assert len(items) == 1000
    assert items[-1] == "assistant: " + "m999 " * 20
    assert formatted == [history[-1]]
    from ctxbudget import build_context

    formatted.clear()
    built = build_context({"history": items}, max_tokens=300)
    assert 0 < len(formatted) < 40
    assert built.section("history").items_kept < 40


@pytest.mark.parametrize("fmt", ["openai", "anthropic", "gemini", "responses"])
def test_repair_fixes_orphans_unanswered_calls_and_duplicated_ids(fmt: str) -> None:
    exchange = _tool_exchange(fmt, 1, 2, "r")
    orphan = _tool_exchange(fmt, 9, 1, "lost")[-1]  # a result whose call is not there
    partial = exchange[:1] if fmt in ("anthropic", "gemini") else exchange[:-1]
    broken = [
        _message(fmt, "user", "first"),
        orphan,
        _message(fmt, "assistant", "a"),
        _message(fmt, "user", "second"),
        *partial,  # calls left (partly) without results
        _message(fmt, "user", "third"),
        *exchange,  # the same call ids again
        _message(fmt, "assistant", "done"),
    ]
    repaired = repair_messages(broken, format=fmt)
    assert repaired.changes, "nothing reported"
    assert any("call_9_0" in c for c in repaired.changes)
    assert_well_paired(repaired.messages, fmt)
    ids = [c for m in repaired.messages for c in get_format(fmt).calls(m)]
    assert len(ids) == len(set(ids))
    assert repair_messages(repaired.messages, format=fmt).changes == []


def test_fit_messages_repairs_what_it_keeps() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "x", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "user", "content": "never mind"},
        {"role": "assistant", "content": "ok"},
    ]  # fmt: skip
    fitted = fit_messages(messages, 10_000)
    assert len(fitted.repairs) == 1
    assert "tool_calls" not in fitted.messages[1]
    assert messages[1]["tool_calls"]  # the original is untouched
    assert fitted.tokens == count_prompt(fitted.messages)


def test_unknown_format_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="formats: auto, openai"):
        fit_messages([{"role": "user", "content": "x"}], 100, format="cohere")


@pytest.mark.parametrize(
    ("make", "fmt"),
    [
        (lambda: [{"role": "user", "content": "x"}], "openai"),
        (lambda: [{"role": "user", "parts": [{"text": "x"}]}], "gemini"),
        (lambda: [{"type": "function_call_output", "call_id": "c", "output": "x"}], "responses"),
        (
            lambda: [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}],
            "anthropic",
        ),
    ],
)
def test_detection(make: Callable[[], list[Any]], fmt: str) -> None:
    assert detect_format(make()).name == fmt


def test_max_tokens_model_takes_the_window_from_the_catalogue() -> None:
    from ctxbudget.models import window_for

    messages = [{"role": "user", "content": "hi"}]
    assert fit_messages(messages, "model", model="gpt-4o").max_tokens == window_for("gpt-4o")
    assert fit_messages(messages, "model", model="openai/gpt-4o").max_tokens == window_for("gpt-4o")
    with pytest.raises(ConfigurationError, match="did you mean"):
        fit_messages(messages, "model", model="gpt-9x")
    with pytest.raises(ConfigurationError, match="needs model="):
        fit_messages(messages, "model")


def test_build_context_max_tokens_model() -> None:
    from ctxbudget import build_context
    from ctxbudget.models import window_for

    built = build_context({"facts": "sky is blue"}, max_tokens="model", model="gpt-4.1")
    assert built.max_tokens == window_for("gpt-4.1")
    with pytest.raises(ConfigurationError, match="needs model="):
        build_context({"facts": "sky is blue"}, max_tokens="model")


def test_roles_know_which_roles_are_present_so_absent_ones_cost_no_scan() -> None:
    """A plain history's roles carry the set of roles present: asking where its system or
    tool messages are answers at once, and a present role is found at every position."""
    from ctxbudget.messages._formats import Roles, indices

    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}] * 3
    history.insert(4, {"role": "system", "content": "be brief"})
    for fmt in (get_format("openai"), get_format("responses")):
        roles = fmt.roles(history)
        assert isinstance(roles, Roles)
        assert roles.present == {"user", "assistant", "system"}
        assert indices(roles, "system") == [4]
        assert indices(roles, "tool") == []
        assert indices(roles, "user") == [0, 2, 5]
    assert indices(["user", "tool", "tool"], "tool") == [1, 2]  # a plain list is scanned
    with pytest.raises(TypeError):  # no way to change the roles behind ``present``'s back
        roles[0] = "tool"  # type: ignore[index]
