"""The LangChain v1 agent middleware inside a real create_agent: every request the model
receives is within the cap, summarized and archived when asked, the state keeps everything."""

from __future__ import annotations

import asyncio

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from tests.lc_fakes import RecordingChatModel, tool_turn

from ctxbudget import BudgetError, ConfigurationError, count_prompt
from ctxbudget.integrations.langchain_agents import SUMMARY_PREFIX, ContextBudgetMiddleware
from ctxbudget.testing import CharTokenizer

CHARS = CharTokenizer()
QUESTIONS = ["first question is long " * 3, "second question. It matters.", "third"]


@tool
def lookup(q: str) -> str:
    """Look something up."""
    return "R" * 40


def _model() -> RecordingChatModel:
    """Per question: a lookup call, then an answer (ids never repeat)."""
    responses: list[BaseMessage] = []
    for i in range(len(QUESTIONS)):
        responses += [tool_turn(f"c{i}", str(i)), AIMessage(f"answer {i}")]
    return RecordingChatModel(responses=responses)


def _run(middleware: ContextBudgetMiddleware) -> tuple[RecordingChatModel, list[BaseMessage]]:
    model = _model()
    agent = create_agent(model, [lookup], system_prompt="be brief", middleware=[middleware])
    messages: list[BaseMessage] = []
    for question in QUESTIONS:
        messages = agent.invoke({"messages": [*messages, HumanMessage(question)]})["messages"]
    return model, messages


def _pairs_whole(messages: list[BaseMessage]) -> bool:
    calls = {c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    return calls == {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}


def test_every_request_fits_and_the_state_keeps_the_history() -> None:
    """Three questions with a tool call each: six requests, each within 160 tokens (counted
    apart), the system prompt first, no call without its result; the state holds all 12."""
    model, messages = _run(ContextBudgetMiddleware(160, tokenizer=CHARS))
    assert len(messages) == 12
    assert len(model.seen) == 6
    # by hand: system 3+6+8 = 17, the first question 3+4+69 = 76, priming 3
    assert count_prompt(model.seen[0], CHARS, format="langchain") == 96
    for sent in model.seen:
        assert sent[0].content == "be brief"
        assert count_prompt(sent, CHARS, format="langchain") <= 160
        assert _pairs_whole(sent)
    assert all("first question" not in str(m.content) for m in model.seen[-1])


def test_summary_and_archive_keep_what_was_left_out() -> None:
    """summarize=True: trimmed requests carry the summary message second, still within the
    cap; every message left out is archived whole and expands to the original."""
    middleware = ContextBudgetMiddleware(
        200, tokenizer=CHARS, summarize=True, summary_tokens=40, archive="memory://"
    )
    model, messages = _run(middleware)
    trimmed = [
        sent for sent in model.seen if len(sent) > 1 and sent[1].content.startswith(SUMMARY_PREFIX)
    ]
    assert trimmed
    for sent in model.seen:
        assert count_prompt(sent, CHARS, format="langchain") <= 200
    summary = trimmed[0][1].content.removeprefix(SUMMARY_PREFIX)
    assert 0 < CHARS.count(summary) <= 40
    expanded = [middleware.expand(block) for block in middleware.archived]
    by_content = {(m.type, str(m.content)) for m in messages}
    assert expanded
    assert all((m.type, str(m.content)) in by_content for m in expanded)
    assert QUESTIONS[0] in [m.content for m in expanded]


def test_async_agent_fits_too() -> None:
    """agent.ainvoke goes through awrap_model_call: the request is fitted."""
    model = _model()
    middleware = ContextBudgetMiddleware(120, tokenizer=CHARS)
    agent = create_agent(model, [lookup], system_prompt="be brief", middleware=[middleware])
    history = [HumanMessage("old " * 30), AIMessage("old answer"), HumanMessage("new")]
    state = asyncio.run(agent.ainvoke({"messages": history}))
    assert len(state["messages"]) == 6
    assert [m.content for m in model.seen[0]] == ["be brief", "new"]
    for sent in model.seen:
        assert count_prompt(sent, CHARS, format="langchain") <= 120


def test_hostile_histories() -> None:
    """Empty: nothing sent; a lost tool result: the dangling call is removed; one message
    over the window: BudgetError from the agent."""
    middleware = ContextBudgetMiddleware(60, tokenizer=CHARS)
    assert middleware.fit_request([]) == []
    history = [HumanMessage("hi"), tool_turn("lost", "x"), HumanMessage("well?")]
    sent = middleware.fit_request(history)
    assert [m.type for m in sent] == ["human", "human"]
    agent = create_agent(_model(), [lookup], middleware=[middleware])
    with pytest.raises(BudgetError):
        agent.invoke({"messages": [HumanMessage("x" * 100)]})


def test_bad_settings() -> None:
    """A zero cap, a summary as large as the cap, expand without an archive: refused."""
    with pytest.raises(ConfigurationError, match="max_tokens"):
        ContextBudgetMiddleware(0)
    with pytest.raises(ConfigurationError, match="summary_tokens"):
        ContextBudgetMiddleware(100, summary_tokens=100)
    with pytest.raises(ConfigurationError, match="archive"):
        ContextBudgetMiddleware(100).expand("nope")


class _Counting:
    """A Summarizer that writes ``text`` and counts its calls."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    def summarize(self, items: object, max_tokens: int) -> str:
        self.calls += 1
        return self.text


def test_a_custom_summary_is_reused_and_never_passes_its_room() -> None:
    """The same messages left out twice: summarized once; a summary over summary_tokens is
    not sent (the request is the plain fit, still within the cap)."""
    history = [HumanMessage("old " * 30), AIMessage("old answer"), HumanMessage("new")]
    short = _Counting("user said old things")
    middleware = ContextBudgetMiddleware(150, tokenizer=CHARS, summarize=short, summary_tokens=30)
    first = middleware.fit_request(history)
    again = middleware.fit_request(history)
    assert [m.content for m in first] == [SUMMARY_PREFIX + "user said old things", "new"]
    # by hand: summary 3+4+48+20 = 75, "new" 3+4+3 = 10, priming 3
    assert count_prompt(first, CHARS, format="langchain") == 88
    assert [m.content for m in again] == [m.content for m in first]
    assert short.calls == 1
    middleware.fit_request([*history, AIMessage("ok"), HumanMessage("m" * 50)])  # more left out
    assert short.calls == 2
    long = _Counting("x" * 31)
    middleware = ContextBudgetMiddleware(150, tokenizer=CHARS, summarize=long, summary_tokens=30)
    assert [m.content for m in middleware.fit_request(history)] == ["new"]
