"""The Pydantic AI history processor inside a real Agent run (FunctionModel, offline)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_ai import Agent
from pydantic_ai.capabilities import ProcessHistory
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from ctxbudget import BudgetError, ConfigurationError, count_prompt
from ctxbudget.integrations.pydantic_ai import FORMAT, fit_history, fit_pydantic_ai_messages
from ctxbudget.testing import CharTokenizer

CHARS = CharTokenizer()


class Scripted:
    """A FunctionModel body: calls ``lookup`` once per user prompt, then answers; records
    every request's messages."""

    def __init__(self) -> None:
        self.seen: list[list[ModelMessage]] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.seen.append(list(messages))
        last = messages[-1]
        if any(isinstance(p, ToolReturnPart) for p in last.parts):
            return ModelResponse(parts=[TextPart("answered")])
        n = len(self.seen)
        return ModelResponse(parts=[ToolCallPart("lookup", {"q": "x"}, tool_call_id=f"c{n}")])


def _pairs_whole(messages: list[ModelMessage]) -> bool:
    calls = {c for m in messages for c in FORMAT.calls(m)}
    answers = {a for m in messages for a in FORMAT.answers(m)}
    return calls == answers


def test_agent_model_receives_history_within_the_cap() -> None:
    """Three runs sharing one history, a tool call each: every request the model received is
    within 200 tokens (counted apart by the same rule), keeps the system prompt, and never
    holds a call without its return."""
    body = Scripted()
    agent = Agent(
        FunctionModel(body),
        system_prompt="be brief",
        capabilities=[ProcessHistory(fit_history(200, tokenizer=CHARS))],
    )

    @agent.tool_plain
    def lookup(q: str) -> str:
        return "R" * 30

    history: list[ModelMessage] = []
    for question in ("first question " * 3, "second question " * 3, "third"):
        result = agent.run_sync(question, message_history=history)
        history = result.all_messages()
        assert result.output == "answered"
    assert len(body.seen) == 6
    for sent in body.seen:
        assert count_prompt(sent, CHARS, format=FORMAT) <= 200
        assert isinstance(sent[0].parts[0], SystemPromptPart)
        assert _pairs_whole(sent)
    # the last request no longer carries the second question (it did not fit)
    assert all("second question" not in FORMAT.text(m) for m in body.seen[-1])


def test_cost_rule_by_hand() -> None:
    """System+user request: (3+6+8) + (3+4+5) = 29; a call: 3+9 + 3+6+9 = 30; its return:
    3+4+2 = 9; priming 3."""
    history = [
        ModelRequest(parts=[SystemPromptPart("be brief"), UserPromptPart("hello")]),
        ModelResponse(parts=[ToolCallPart("lookup", {"q": "x"}, tool_call_id="c1")]),
        ModelRequest(parts=[ToolReturnPart("lookup", "ok", tool_call_id="c1")]),
    ]
    assert count_prompt(history, CHARS, format=FORMAT) == 29 + 30 + 9 + 3


def test_a_call_whose_return_is_missing_is_removed() -> None:
    """An old call without its return is dropped from the kept history (a copy, reported)."""
    history = [
        ModelRequest(parts=[UserPromptPart("hi")]),
        ModelResponse(parts=[TextPart("let me see"), ToolCallPart("lookup", {}, tool_call_id="x")]),
        ModelRequest(parts=[UserPromptPart("well?")]),
    ]
    fitted = fit_pydantic_ai_messages(history, 1_000, tokenizer=CHARS)
    assert [FORMAT.text(m) for m in fitted.messages] == ["hi", "let me see", "well?"]
    assert not FORMAT.calls(fitted.messages[1])
    assert history[1].parts[1].tool_call_id == "x"  # the original is untouched
    assert len(fitted.repairs) == 1


def test_empty_history_oversized_message_and_bad_cap() -> None:
    """Empty: empty; one request over the cap: BudgetError; max_tokens=0: ConfigurationError."""
    processor = fit_history(40, tokenizer=CHARS)
    assert processor([]) == []
    with pytest.raises(BudgetError):
        processor([ModelRequest(parts=[UserPromptPart("x" * 50)])])
    with pytest.raises(ConfigurationError, match="max_tokens"):
        fit_history(0)
    with pytest.raises(ConfigurationError, match="ModelRequest"):
        processor([{"role": "user", "content": "hi"}])  # type: ignore[list-item]


def test_system_prompt_is_kept_apart_from_an_old_user_prompt() -> None:
    """The first request holds the system prompt and an old question: when the question no
    longer fits, a system-only copy is kept; when both fit, the original object comes back."""
    first = ModelRequest(parts=[SystemPromptPart("be brief"), UserPromptPart("q" * 50)])
    history = [first, ModelResponse(parts=[TextPart("a")]), ModelRequest([UserPromptPart("hi")])]
    # by hand: system 3+6+8 = 17, old question 3+4+50 = 57, answer 3+9+1 = 13, "hi" 3+4+2 = 9
    fitted = fit_pydantic_ai_messages(history, 17 + 9 + 3, tokenizer=CHARS)
    assert [type(p) for m in fitted.messages for p in m.parts] == [SystemPromptPart, UserPromptPart]
    assert fitted.messages[0] is not first
    assert fitted.tokens == 29
    whole = fit_pydantic_ai_messages(history, 17 + 57 + 13 + 9 + 3, tokenizer=CHARS)
    assert whole.messages[0] is first
    assert whole.tokens == 99


@st.composite
def _histories(draw: st.DrawFn) -> list[ModelMessage]:
    """A system+user request, then turns: a user prompt, maybe a tool call and its return
    (or, rarely, a lost return), an answer."""
    words = st.text(alphabet="abc ", min_size=0, max_size=30)
    out: list[ModelMessage] = [
        ModelRequest(parts=[SystemPromptPart("sys"), UserPromptPart(draw(words))])
    ]
    for turn in range(draw(st.integers(0, 6))):
        if turn:
            out.append(ModelRequest(parts=[UserPromptPart(draw(words))]))
        tool = draw(st.sampled_from(["none", "pair", "lost"]))
        if tool != "none":
            out.append(ModelResponse(parts=[ToolCallPart("t", {"a": 1}, tool_call_id=f"c{turn}")]))
            if tool == "pair":
                out.append(
                    ModelRequest(parts=[ToolReturnPart("t", draw(words), tool_call_id=f"c{turn}")])
                )
        out.append(ModelResponse(parts=[TextPart(draw(words))]))
    out.append(ModelRequest(parts=[UserPromptPart(draw(words))]))
    return out


@given(_histories(), st.integers(1, 400))
@settings(max_examples=150, deadline=None)
def test_fit_never_passes_the_cap_keeps_the_system_prompt_and_pairs(
    history: list[ModelMessage], cap: int
) -> None:
    """Whatever the history and cap: within the cap (recounted), the system prompt first,
    every kept call answered and every kept return called, or BudgetError."""
    try:
        fitted = fit_pydantic_ai_messages(history, cap, tokenizer=CHARS)
    except BudgetError:
        return
    assert count_prompt(fitted.messages, CHARS, format=FORMAT) == fitted.tokens <= cap
    assert isinstance(fitted.messages[0].parts[0], SystemPromptPart)
    assert fitted.messages[-1] is history[-1]
    assert _pairs_whole(fitted.messages)
