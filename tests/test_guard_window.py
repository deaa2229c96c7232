"""guard/aguard, count_prompt, usage_of, the ContextWindow trigger, and settings from env."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import tiktoken
from pydantic import ValidationError

import ctxbudget
from ctxbudget import (
    BudgetEvent,
    BudgetExhausted,
    ConfigurationError,
    ContextWindow,
    Forecast,
    SessionBudget,
    aguard,
    count_prompt,
    fit_messages,
    guard,
)
from ctxbudget.session import Usage, usage_of
from ctxbudget.testing import CharTokenizer

PROMPT = "hello world"  # 11 characters: 11 tokens with CharTokenizer


class APITimeoutError(Exception):
    """Named like the OpenAI SDK's timeout error."""


def _openai(prompt_tokens: Any, completion_tokens: Any) -> SimpleNamespace:
    return SimpleNamespace(
        usage=SimpleNamespace(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    )


def _anthropic(input_tokens: Any, output_tokens: Any) -> SimpleNamespace:
    return SimpleNamespace(
        usage=SimpleNamespace(input_tokens=input_tokens, output_tokens=output_tokens)
    )


@pytest.fixture
def budget(ledger_url: str) -> Iterator[SessionBudget]:
    """A session budget with a 1,000-token session cap and one token per character."""
    b = SessionBudget(ledger_url, session_cap=1000, tokenizer=CharTokenizer())
    yield b
    b.close()


class Calls:
    """A fake LLM call that counts how often it runs."""

    def __init__(self, result: Any = None, exc: BaseException | None = None) -> None:
        self.result = result
        self.exc = exc
        self.count = 0

    def __call__(self) -> Any:
        self.count += 1
        if self.exc is not None:
            raise self.exc
        return self.result

    async def acall(self) -> Any:
        return self()


# -- count_prompt ---------------------------------------------------------------------------------


def test_count_prompt_string_is_the_o200k_count() -> None:
    """A string prompt counts as its o200k_base tokens, exactly what tiktoken gives."""
    text = "Hello, world! How are you?"
    # "Hello" "," " world" "!" " How" " are" " you" "?"
    assert count_prompt(text) == 8
    assert count_prompt(text) == ctxbudget.get_tokenizer("o200k_base").count(text)
    assert count_prompt(text) == len(tiktoken.get_encoding("o200k_base").encode(text))


def test_count_prompt_chat_messages_add_the_chat_overhead() -> None:
    """Chat messages count 3 priming tokens plus, per message, 3 + role + content, and a name
    1 + its own tokens (OpenAI cookbook, num_tokens_from_messages)."""
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi", "name": "ann"},
    ]
    # 3 + (3 + 6 + 9) + (3 + 4 + 2 + 1 + 3) = 34
    assert count_prompt(messages, CharTokenizer()) == 34


def test_count_prompt_counts_tool_calls_like_fit_messages() -> None:
    """Tool calls cost what fit_messages charges: 3 + function name + arguments per call."""
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    # 3 + (3 + 4 + 8) + (3 + 9 + 0 + 3 + 3 + 2) + (3 + 4 + 5) = 50
    assert count_prompt(messages, CharTokenizer()) == 50
    assert (
        count_prompt(messages, CharTokenizer())
        == fit_messages(messages, 10_000, tokenizer=CharTokenizer()).tokens
    )


@pytest.mark.parametrize(("detail", "image"), [(None, 1445), ("high", 1445), ("low", 85)])
def test_count_prompt_content_parts_count_text_and_images(detail: str | None, image: int) -> None:
    """Content given as parts counts its text parts, and each image by OpenAI's published
    image rule (85 tokens at low detail; otherwise the rule's upper bound, 85 + 170 x 8)."""
    spec = {"url": "https://example.invalid/a.png"}
    if detail is not None:
        spec["detail"] = detail
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "abc"},
                {"type": "image_url", "image_url": spec},
                {"type": "text", "text": "de"},
            ],
        }
    ]
    # 3 + 3 + len("user") 4 + 3 + 2 = 15, plus the image
    assert count_prompt(messages, CharTokenizer()) == 15 + image
    fitted = fit_messages(messages, 10_000, tokenizer=CharTokenizer())
    assert fitted.tokens == 15 + image
    assert fitted.estimated is (detail != "low")


def test_count_prompt_empty_chat_is_the_priming() -> None:
    """No messages at all still costs the 3 reply-priming tokens."""
    assert count_prompt([], CharTokenizer()) == 3


# -- usage_of -------------------------------------------------------------------------------------


def test_usage_of_openai_object() -> None:
    """An OpenAI-style response gives (prompt_tokens, completion_tokens)."""
    assert usage_of(_openai(12, 34)) == Usage(12, 34)


def test_usage_of_anthropic_object() -> None:
    """An Anthropic-style response gives (input_tokens, output_tokens)."""
    assert usage_of(_anthropic(56, 78)) == Usage(56, 78)


def test_usage_of_dicts() -> None:
    """The same keys in dicts are understood, in both styles."""
    assert usage_of({"usage": {"prompt_tokens": 1, "completion_tokens": 2}}) == Usage(1, 2)
    assert usage_of({"usage": {"input_tokens": 3, "output_tokens": 4}}) == Usage(3, 4)


def test_usage_of_still_unpacks_as_input_output() -> None:
    """Callers written for the old (input, output) tuple keep working: a Usage unpacks so."""
    input_tokens, output_tokens = usage_of(_openai(12, 34))  # type: ignore[misc]
    assert (input_tokens, output_tokens) == (12, 34)


def test_usage_of_missing_usage_is_none() -> None:
    """A response without usage (object, dict, or a plain string) gives None."""
    assert usage_of(SimpleNamespace(text="hi")) is None
    assert usage_of({"choices": []}) is None
    assert usage_of("plain text") is None
    assert usage_of(SimpleNamespace(usage=None)) is None
    assert usage_of({"usage": {"total_tokens": 9}}) is None


def test_usage_of_rejects_bool_input_count() -> None:
    """A bool where the input count should be is not a token count: None."""
    assert usage_of(_openai(True, 5)) is None
    assert usage_of({"usage": {"input_tokens": False, "output_tokens": 5}}) is None


def test_usage_of_rejects_bool_output_count() -> None:
    """A bool where the output count should be is not a token count: None."""
    assert usage_of(_openai(5, True)) is None
    assert usage_of({"usage": {"input_tokens": 5, "output_tokens": False}}) is None


# -- guard ----------------------------------------------------------------------------------------


def test_guard_commits_reported_usage(budget: SessionBudget) -> None:
    """A response that reports usage has exactly that usage committed."""
    response = _openai(7, 9)
    call = Calls(response)
    out = guard(budget, call, prompt=PROMPT, max_output_tokens=50, session="s1")
    assert out is response
    assert call.count == 1
    s = budget.status("s1")
    assert (s.used, s.reserved, s.input_tokens, s.output_tokens, s.calls) == (16, 0, 7, 9, 1)


def test_guard_commits_estimate_without_usage(budget: SessionBudget) -> None:
    """A response without usage commits the estimate: prompt tokens and max_output_tokens."""
    out = guard(budget, Calls("text"), prompt=PROMPT, max_output_tokens=50, session="s1")
    assert out == "text"
    s = budget.status("s1")
    assert (s.used, s.reserved, s.input_tokens, s.output_tokens, s.calls) == (61, 0, 11, 50, 1)


def test_guard_rolls_back_on_error(budget: SessionBudget) -> None:
    """With bill_on_error="none", a call raising ValueError is rolled back (nothing used or
    held) and the error propagates."""
    call = Calls(exc=ValueError("bad request"))
    with pytest.raises(ValueError, match="bad request"):
        guard(budget, call, prompt=PROMPT, max_output_tokens=50, session="s1", bill_on_error="none")
    assert call.count == 1
    s = budget.status("s1")
    assert (s.used, s.reserved, s.calls) == (0, 0, 0)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("input", (11, 11, 0)), ("estimate", (61, 11, 50)), ("none", (0, 0, 0))],
)
def test_bill_on_error_policies(budget: SessionBudget, policy: str, expected: tuple) -> None:
    """Any exception after the call started is settled by the documented policy; the default
    bills the prompt estimate as input, since the request may have reached the provider."""
    call = Calls(exc=ConnectionError("reset by peer"))
    with pytest.raises(ConnectionError):
        guard(
            budget,
            call,
            prompt=PROMPT,
            max_output_tokens=50,
            session="s1",
            bill_on_error=policy,  # type: ignore[arg-type]
        )
    s = budget.status("s1")
    assert (s.used, s.input_tokens, s.output_tokens) == expected
    assert s.reserved == 0


def test_default_bills_the_input_of_a_failed_call(budget: SessionBudget) -> None:
    """Without a policy given, a 5xx-style error after sending bills the prompt as input."""
    with pytest.raises(RuntimeError):
        guard(
            budget,
            Calls(exc=RuntimeError("502 bad gateway")),
            prompt=PROMPT,
            max_output_tokens=50,
            session="s1",
        )
    assert budget.status("s1").input_tokens == 11


def test_unknown_bill_on_error_is_refused_before_any_call(budget: SessionBudget) -> None:
    """A misspelt policy fails up front, naming the three, and nothing is reserved."""
    call = Calls("text")
    with pytest.raises(ConfigurationError, match="'input', 'estimate', 'none'"):
        guard(
            budget,
            call,
            prompt=PROMPT,
            max_output_tokens=5,
            session="s1",
            bill_on_error="always",  # type: ignore[arg-type]
        )
    assert call.count == 0


@pytest.mark.parametrize(
    "exc", [TimeoutError("slow"), APITimeoutError("slow")], ids=["TimeoutError", "APITimeoutError"]
)
def test_guard_timeout_commits_prompt_estimate(budget: SessionBudget, exc: Exception) -> None:
    """A timeout commits the prompt estimate as input, 0 output, and the exception propagates."""
    with pytest.raises(type(exc), match="slow"):
        guard(budget, Calls(exc=exc), prompt=PROMPT, max_output_tokens=50, session="s1")
    s = budget.status("s1")
    assert (s.used, s.reserved, s.input_tokens, s.output_tokens, s.calls) == (11, 0, 11, 0, 1)


def test_guard_exhausted_does_not_call(ledger_url: str) -> None:
    """When the estimate does not fit the cap, BudgetExhausted is raised and the call never runs."""
    b = SessionBudget(ledger_url, session_cap=10, tokenizer=CharTokenizer())
    try:
        call = Calls("never")
        with pytest.raises(BudgetExhausted) as info:
            guard(b, call, prompt=PROMPT, max_output_tokens=5, session="s1")
        assert call.count == 0
        assert (info.value.scope, info.value.requested, info.value.cap) == ("session:s1", 16, 10)
        s = b.status("s1")
        assert (s.used, s.reserved) == (0, 0)
    finally:
        b.close()


def test_guard_fallback_receives_exhaustion(ledger_url: str) -> None:
    """With a fallback, an exhausted budget returns the fallback's value; the call never runs."""
    b = SessionBudget(ledger_url, session_cap=10, tokenizer=CharTokenizer())
    try:
        call = Calls("never")
        seen: list[BudgetExhausted] = []

        def fallback(exc: BudgetExhausted) -> str:
            seen.append(exc)
            return "cached answer"

        out = guard(b, call, prompt=PROMPT, max_output_tokens=5, session="s1", fallback=fallback)
        assert out == "cached answer"
        assert call.count == 0
        assert len(seen) == 1
        assert isinstance(seen[0], BudgetExhausted)
        assert (seen[0].scope, seen[0].requested, seen[0].available) == ("session:s1", 16, 10)
    finally:
        b.close()


def test_guard_cost_from_price_table(budget: SessionBudget) -> None:
    """With model gpt-4o the cost is 2.50 $/1M input plus 10.00 $/1M output."""
    guard(
        budget,
        Calls(_anthropic(100, 200)),
        prompt=PROMPT,
        max_output_tokens=300,
        session="s1",
        model="gpt-4o",
    )
    # 100 * 2.50 / 1e6 + 200 * 10.00 / 1e6 = 0.00025 + 0.002
    assert budget.status("s1").cost == pytest.approx(0.00225)


def test_guard_timeout_cost_is_input_only(budget: SessionBudget) -> None:
    """A timed-out gpt-4o call costs its prompt estimate at the input price only."""
    with pytest.raises(TimeoutError):
        guard(
            budget,
            Calls(exc=TimeoutError()),
            prompt="x" * 400,
            max_output_tokens=50,
            session="s1",
            model="gpt-4o",
        )
    # 400 * 2.50 / 1e6
    assert budget.status("s1").cost == pytest.approx(0.001)


def test_guard_small_cost_is_recorded_exactly(budget: SessionBudget) -> None:
    """A call's cost is kept at full precision on every ledger, not rounded to 6 decimals."""
    guard(
        budget,
        Calls(_openai(11, 0)),
        prompt=PROMPT,
        max_output_tokens=50,
        session="s1",
        model="gpt-4o",
    )
    # 11 * 2.50 / 1e6 = 0.0000275 (not rounded to 6 decimals: 0.000028)
    assert budget.status("s1").cost == pytest.approx(0.0000275)


def test_guard_bool_usage_commits_the_estimate() -> None:
    """A response whose output count is a bool reports no usage: the estimate is committed."""
    b = SessionBudget("memory://", session_cap=1000, tokenizer=CharTokenizer())
    out = guard(b, Calls(_openai(5, True)), prompt=PROMPT, max_output_tokens=50, session="s1")
    assert out.usage.prompt_tokens == 5
    s = b.status("s1")
    assert (s.used, s.reserved, s.input_tokens, s.output_tokens) == (61, 0, 11, 50)


def test_guard_charges_user_and_conversation(budget: SessionBudget) -> None:
    """The user and conversation scopes are charged the same usage as the session."""
    guard(
        budget,
        Calls(_openai(3, 4)),
        prompt=PROMPT,
        max_output_tokens=50,
        session="s1",
        user="u1",
        conversation="c1",
    )
    assert budget.status(user="u1").used == 7
    assert budget.status(conversation="c1").used == 7
    assert budget.status(scope="global").used == 7


# -- aguard ---------------------------------------------------------------------------------------


def test_aguard_commits_reported_usage(budget: SessionBudget) -> None:
    """An async call's reported usage is committed."""
    call = Calls(_anthropic(5, 6))
    out = asyncio.run(aguard(budget, call.acall, prompt=PROMPT, max_output_tokens=50, session="s1"))
    assert out is call.result
    s = budget.status("s1")
    assert (s.used, s.reserved, s.input_tokens, s.output_tokens, s.calls) == (11, 0, 5, 6, 1)


def test_aguard_commits_estimate_without_usage(budget: SessionBudget) -> None:
    """An async call without usage commits the estimate (prompt, max_output_tokens)."""
    call = Calls("text")
    asyncio.run(aguard(budget, call.acall, prompt=PROMPT, max_output_tokens=20, session="s1"))
    s = budget.status("s1")
    assert (s.used, s.input_tokens, s.output_tokens) == (31, 11, 20)


def test_aguard_rolls_back_on_error(budget: SessionBudget) -> None:
    """With bill_on_error="none", an async call raising ValueError is rolled back and the
    error propagates."""
    call = Calls(exc=ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        asyncio.run(
            aguard(
                budget,
                call.acall,
                prompt=PROMPT,
                max_output_tokens=20,
                session="s1",
                bill_on_error="none",
            )
        )
    s = budget.status("s1")
    assert (s.used, s.reserved, s.calls) == (0, 0, 0)


def test_aguard_timeout_commits_prompt_estimate(budget: SessionBudget) -> None:
    """An async APITimeoutError commits the prompt estimate as input and propagates."""
    call = Calls(exc=APITimeoutError("slow"))
    with pytest.raises(APITimeoutError):
        asyncio.run(aguard(budget, call.acall, prompt=PROMPT, max_output_tokens=20, session="s1"))
    s = budget.status("s1")
    assert (s.used, s.reserved, s.input_tokens, s.output_tokens) == (11, 0, 11, 0)


def test_aguard_exhausted_and_fallback(ledger_url: str) -> None:
    """Async: exhaustion raises without calling; an async fallback's value is returned instead."""
    b = SessionBudget(ledger_url, session_cap=10, tokenizer=CharTokenizer())
    try:
        call = Calls("never")
        with pytest.raises(BudgetExhausted):
            asyncio.run(aguard(b, call.acall, prompt=PROMPT, max_output_tokens=5, session="s1"))
        seen: list[BudgetExhausted] = []

        async def fallback(exc: BudgetExhausted) -> str:
            seen.append(exc)
            return "degraded"

        out = asyncio.run(
            aguard(
                b, call.acall, prompt=PROMPT, max_output_tokens=5, session="s1", fallback=fallback
            )
        )
        assert out == "degraded"
        assert call.count == 0
        assert [e.requested for e in seen] == [16]
    finally:
        b.close()


# -- ContextWindow --------------------------------------------------------------------------------


def test_context_window_triggers_once_per_crossing() -> None:
    """The trigger fires when the predicted size reaches the threshold, once, and re-arms."""
    fired: list[Forecast] = []
    w = ContextWindow(1000, threshold=0.85, turns=3, on_trigger=fired.append)

    assert w.observe(100).predicted == 100
    f = w.observe(300)
    assert (f.growth, f.predicted, f.triggered) == (200, 500, False)
    f = w.observe(500)
    assert (f.growth, f.predicted, f.triggered) == (200, 700, False)
    assert fired == []

    f = w.observe(700)
    assert f.triggered is True
    assert len(fired) == 1
    got = fired[0]
    assert (got.tokens, got.growth, got.predicted, got.window) == (700, 200, 900, 1000)
    assert got.fill == pytest.approx(0.7)
    assert got.predicted_fill == pytest.approx(0.9)
    assert got.triggered is True

    f = w.observe(800)  # growth (200 + 200 + 100) / 3, still above: no second call
    assert f.triggered is False
    assert f.predicted == pytest.approx(800 + 500 / 3)
    assert len(fired) == 1

    f = w.observe(300)  # compaction: not growth, and back under the threshold: re-armed
    assert f.triggered is False
    assert f.predicted == pytest.approx(300 + 500 / 3)
    assert len(fired) == 1

    assert w.observe(500).triggered is False  # growth 200, 100, 200
    f = w.observe(700)  # growth 100, 200, 200 -> 700 + 500/3 = 866.7 >= 850
    assert f.triggered is True
    assert len(fired) == 2
    assert fired[1].tokens == 700
    assert fired[1].predicted == pytest.approx(700 + 500 / 3)


def test_context_window_triggers_before_fill_crosses() -> None:
    """Under steady growth the trigger fires one turn before the fill reaches the threshold."""
    fired: list[Forecast] = []
    w = ContextWindow(16000, on_trigger=fired.append)  # threshold 0.85: 13,600 tokens
    seen_sizes = []
    for turn in range(433):  # 37 * 432 = 15,984 <= 16,000
        size = 37 * turn
        seen_sizes.append(size)
        w.observe(size)
    assert seen_sizes[-1] == 15984
    # first size with size + 37 >= 13,600 is 37 * 367 = 13,579 (< 13,600: before crossing)
    assert [f.tokens for f in fired] == [13579]
    assert fired[0].growth == 37
    assert fired[0].predicted == 13616


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"window_tokens": 0}, "window_tokens"),
        ({"window_tokens": 1000, "threshold": 0}, "threshold"),
        ({"window_tokens": 1000, "threshold": 1.5}, "threshold"),
        ({"window_tokens": 1000, "turns": 0}, "turns"),
    ],
    ids=["window-0", "threshold-0", "threshold-1.5", "turns-0"],
)
def test_context_window_invalid_arguments(kwargs: dict[str, Any], what: str) -> None:
    """An out-of-range window, threshold or turn count is a BudgetError naming it."""
    with pytest.raises(ConfigurationError, match=what):
        ContextWindow(**kwargs)


@pytest.mark.parametrize("tokens", [-1, True], ids=["negative", "bool"])
def test_context_window_invalid_observation(tokens: Any) -> None:
    """Observing a negative or bool size is a BudgetError."""
    with pytest.raises(ConfigurationError, match="tokens must be a whole number"):
        ContextWindow(1000).observe(tokens)


# -- SessionBudget.context_window -----------------------------------------------------------------


def test_session_context_window_is_per_conversation() -> None:
    """The same conversation gets the same ContextWindow; another conversation a new one."""
    b = SessionBudget("memory://")
    w = b.context_window("c1", 1000)
    assert b.context_window("c1", 1000) is w
    assert b.context_window("c2", 1000) is not w


def test_session_context_window_summarizes_and_fires_event() -> None:
    """Its trigger calls summarize and fires summarization_triggered with the predicted size."""
    b = SessionBudget("memory://")
    summaries: list[Forecast] = []
    events: list[BudgetEvent] = []
    b.on("summarization_triggered", events.append)
    w = b.context_window("c1", 1000, turns=3, summarize=summaries.append)
    for size in (100, 300, 500):
        w.observe(size)
    assert summaries == []
    assert events == []
    w.observe(700)  # predicted 900
    assert [f.predicted for f in summaries] == [900]
    assert len(events) == 1
    event = events[0]
    assert event.name == "summarization_triggered"
    assert event.scope == "conversation:c1"
    assert event.tokens == 900
    assert isinstance(event.tokens, int)


def test_session_context_window_event_tokens_truncate_predicted() -> None:
    """The event's tokens are int(predicted): a fractional prediction is truncated."""
    b = SessionBudget("memory://")
    events: list[BudgetEvent] = []
    b.on("summarization_triggered", events.append)
    w = b.context_window("c1", 100, threshold=0.5, turns=2)
    w.observe(0)
    w.observe(20)  # growth 20
    w.observe(35)  # growth (20 + 15) / 2 = 17.5, predicted 52.5 >= 50
    assert [e.tokens for e in events] == [52]


def test_guard_feeds_the_conversation_trigger_from_observed_usage() -> None:
    """guard with a conversation feeds its ContextWindow the reported input plus output
    tokens, so summarization triggers without the caller observing anything by hand."""
    b = SessionBudget("memory://", session_cap=1_000_000)
    summaries: list[Forecast] = []
    b.context_window("c1", 10_000, turns=2, summarize=summaries.append)
    reports = [Usage(2_000, 500), Usage(4_000, 500), Usage(6_500, 600)]
    for reported in reports:
        guard(
            b,
            lambda r=reported: r,
            prompt="hi",
            max_output_tokens=1_000,
            session="s",
            conversation="c1",
            usage=lambda r: r,
        )
    # sizes 2,500, 4,500, 7,100: growth (2,000 + 2,600) / 2 = 2,300; predicted 9,400 >= 8,500
    assert [f.tokens for f in summaries] == [7_100]
    assert [f.predicted for f in summaries] == [9_400]
    # another conversation's window is not fed: its first observation has no growth
    other = b.context_window("c2", 10_000)
    guard(
        b,
        lambda: Usage(9_000, 0),
        prompt="hi",
        max_output_tokens=10,
        session="s",
        conversation="c1",
        usage=lambda r: r,
    )
    assert other.observe(100).growth == 0


def test_a_failing_summarize_callback_never_loses_the_call_or_its_spend(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When the conversation's summarize callback raises, guard still returns the response,
    commits the reported usage and holds nothing; the error is logged."""
    b = SessionBudget("memory://", session_cap=10**6)
    b.context_window("c1", 1000, summarize=lambda f: 1 / 0)
    first = {"usage": {"prompt_tokens": 500, "completion_tokens": 10}}
    guard(b, lambda: first, prompt="hi", max_output_tokens=10, session="s1", conversation="c1")
    response = {"usage": {"prompt_tokens": 700, "completion_tokens": 10}}  # predicted 910
    with caplog.at_level("ERROR", logger="ctxbudget.session"):
        got = guard(
            b, lambda: response, prompt="hi", max_output_tokens=10, session="s1", conversation="c1"
        )
    assert got is response
    status = b.status("s1")
    assert (status.used, status.reserved) == (1_220, 0)
    assert "summarization trigger of conversation 'c1' failed" in caplog.text


# -- settings from the environment ----------------------------------------------------------------


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """CTXBUDGET_* environment variables set the session budget's defaults."""
    monkeypatch.setenv("CTXBUDGET_SESSION_TOKEN_CAP", "500")
    monkeypatch.setenv("CTXBUDGET_SOFT_WARN_RATIO", "0.5")
    b = SessionBudget("memory://")
    assert b.session_cap == 500
    assert b.soft_warn_ratio == 0.5


def test_settings_invalid_env_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """An out-of-range environment value is a ValidationError naming the field."""
    monkeypatch.setenv("CTXBUDGET_SOFT_WARN_RATIO", "2")
    with pytest.raises(ValidationError, match="soft_warn_ratio"):
        SessionBudget("memory://")
