"""The LangGraph pre_model_hook inside a real create_react_agent: the model sees a fitted
window while the graph state keeps the whole history."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.prebuilt import create_react_agent
from tests.lc_fakes import RecordingChatModel, tool_turn

from ctxbudget import BudgetError, ConfigurationError, count_prompt
from ctxbudget.integrations.langgraph import fit_hook
from ctxbudget.testing import CharTokenizer

pytestmark = pytest.mark.filterwarnings(
    "ignore:create_react_agent has been moved:DeprecationWarning"
)

CHARS = CharTokenizer()


@tool
def lookup(q: str) -> str:
    """Look something up."""
    return "R" * 40


def _agent(model: RecordingChatModel, cap: int) -> Any:
    hook = fit_hook(cap, tokenizer=CHARS, system="be brief")
    return create_react_agent(model, [lookup], prompt="be brief", pre_model_hook=hook)


def _pairs_whole(messages: list[BaseMessage]) -> bool:
    calls = {c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    return calls == answered


def test_model_sees_a_window_within_the_cap_and_the_state_keeps_everything() -> None:
    """Two turns with a tool call each: every request is within 150 tokens (counted apart),
    starts with the agent's system prompt, never splits a call from its result; the state
    holds all 8 messages."""
    model = RecordingChatModel(
        responses=[tool_turn("c1", "a"), AIMessage("one"), tool_turn("c2", "b"), AIMessage("two")]
    )
    agent = _agent(model, 150)
    state = agent.invoke({"messages": [HumanMessage("first question " * 5)]})
    state = agent.invoke({"messages": [*state["messages"], HumanMessage("second")]})
    assert len(state["messages"]) == 8
    assert len(model.seen) == 4
    # by hand: system 3+6+8 = 17, the question 3+4+75 = 82, priming 3
    assert count_prompt(model.seen[0], CHARS, format="langchain") == 102
    for sent in model.seen:
        assert sent[0].content == "be brief"
        assert count_prompt(sent, CHARS, format="langchain") <= 150
        assert _pairs_whole(sent)
    # the second turn's requests left the first question out: it no longer fits
    assert all("first question" not in str(m.content) for m in model.seen[2])
    assert model.seen[2][-1].content == "second"


def test_a_tool_call_without_its_result_is_repaired_before_the_model() -> None:
    """A history whose old tool call lost its result: the hook removes the dangling call,
    so the agent's history check passes and the model gets a valid request."""
    model = RecordingChatModel(responses=[AIMessage("fine")])
    history = [HumanMessage("hi"), tool_turn("lost", "x"), HumanMessage("still there?")]
    state = _agent(model, 1_000).invoke({"messages": history})
    assert state["messages"][-1].content == "fine"
    (sent,) = model.seen
    assert [m.type for m in sent] == ["system", "human", "human"]


def test_hook_on_an_empty_history_and_a_message_over_the_window() -> None:
    """No messages: nothing to send; one message larger than the window: BudgetError."""
    hook = fit_hook(50, tokenizer=CHARS)
    assert hook({"messages": []}) == {"llm_input_messages": []}
    with pytest.raises(BudgetError):
        hook({"messages": [HumanMessage("x" * 60)]})


def test_hook_rejects_a_bad_cap_and_a_state_without_messages() -> None:
    """max_tokens=0 fails at construction; a state without the key names it."""
    with pytest.raises(ConfigurationError, match="max_tokens"):
        fit_hook(0)
    with pytest.raises(ConfigurationError, match="'history'"):
        fit_hook(50, messages_key="history")({"messages": []})
