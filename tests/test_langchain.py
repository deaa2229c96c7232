"""The optional LangChain adapter fits message objects by the same rules."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    trim_messages,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableLambda

from ctxbudget import BudgetError, ConfigurationError, count_prompt
from ctxbudget.integrations.langchain import (
    fit_langchain_messages,
    fit_messages_runnable,
    token_counter,
)
from ctxbudget.testing import CharTokenizer


def test_langchain_messages_keep_system_newest_turn_and_tool_pairs() -> None:
    """System kept, oldest turns dropped, a tool call and its result kept together."""
    system = SystemMessage("You are brief.")
    old = [HumanMessage("old question " * 40), AIMessage("old answer " * 40)]
    call = AIMessage("", tool_calls=[{"name": "search", "args": {"q": "dst"}, "id": "c1"}])
    result = ToolMessage("3 results", tool_call_id="c1")
    recent = [HumanMessage("find it"), call, result, AIMessage("found"), HumanMessage("thanks")]
    messages = [system, *old, *recent]
    kept, report = fit_langchain_messages(messages, 80)
    assert kept == [system, *recent]
    assert all(a is b for a, b in zip(kept, [system, *recent], strict=True))
    assert report.tokens <= 80
    assert len(report.dropped) == 2


def test_import_of_ctxbudget_does_not_import_langchain() -> None:
    """The adapter is opt-in: importing ctxbudget alone leaves langchain unloaded."""
    import subprocess
    import sys

    code = "import sys, ctxbudget; print('langchain_core' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the Runnable and the token counter, inside real LCEL chains -------------------------------


class _Recorder:
    """Records the messages a chain hands to the model."""

    def __init__(self) -> None:
        self.seen: list[list[BaseMessage]] = []

    def __call__(self, value: object) -> object:
        assert isinstance(value, list)
        self.seen.append(list(value))
        return value


def _history() -> list[BaseMessage]:
    call = AIMessage("", tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "c9"}])
    return [
        HumanMessage("q1 " * 30),
        AIMessage("a1 " * 30),
        HumanMessage("look it up"),
        call,
        ToolMessage("r" * 20, tool_call_id="c9"),
        AIMessage("done"),
        HumanMessage("and now?"),
    ]


def test_runnable_in_an_lcel_chain_sends_the_model_a_fitted_prompt() -> None:
    """prompt | fitter | model: the model receives the system message and the newest turns
    within the cap (counted apart, char tokenizer), the tool call with its result."""
    prompt = ChatPromptTemplate.from_messages(
        [("system", "be brief"), MessagesPlaceholder("history")]
    )
    recorder = _Recorder()
    model = FakeMessagesListChatModel(responses=[AIMessage("ok")])
    history = _history()
    # by hand (3 + role + content per message; a tool call 3 + name + args; priming 3):
    # system 3+6+8 = 17, "look it up" 3+4+10 = 17, the call 3+9+0 + 3+6+9 = 30, its result
    # 3+4+20 = 27, "done" 3+9+4 = 16, "and now?" 3+4+8 = 15, priming 3: 125 tokens; the
    # older turn (97 + 102) does not fit.
    cap = 125
    fitter = fit_messages_runnable(cap, tokenizer=CharTokenizer())
    chain = prompt | fitter | RunnableLambda(recorder) | model
    reply = chain.invoke({"history": history})
    assert reply.content == "ok"
    (sent,) = recorder.seen
    assert [m.content for m in sent] == ["be brief", *[m.content for m in history[2:]]]
    assert count_prompt(sent, CharTokenizer(), format="langchain") == 125
    ids = [m.tool_call_id for m in sent if isinstance(m, ToolMessage)]
    assert ids == [c["id"] for m in sent if isinstance(m, AIMessage) for c in m.tool_calls]


def test_runnable_never_keeps_a_call_without_its_result() -> None:
    """One token less than the exchange needs: the call and its result go together, and the
    trimmed history starts at the newest human message."""
    prompt = ChatPromptTemplate.from_messages(
        [("system", "be brief"), MessagesPlaceholder("history")]
    )
    fitter = fit_messages_runnable(124, tokenizer=CharTokenizer())
    sent = (prompt | fitter).invoke({"history": _history()})
    assert [m.content for m in sent] == ["be brief", "and now?"]


def test_runnable_keeps_everything_that_fits_and_accepts_plain_lists() -> None:
    """Under the cap the input comes back whole; (role, text) pairs are read too."""
    fitter = fit_messages_runnable(10_000)
    out = fitter.invoke([("system", "s"), ("human", "hi")])
    assert [(m.type, m.content) for m in out] == [("system", "s"), ("human", "hi")]


def test_runnable_empty_history_and_oversized_message() -> None:
    """An empty input gives an empty list; one message over the cap raises BudgetError."""
    fitter = fit_messages_runnable(50, tokenizer=CharTokenizer())
    assert fitter.invoke([]) == []
    with pytest.raises(BudgetError):
        fitter.invoke([HumanMessage("x" * 100)])


def test_runnable_rejects_a_bad_cap_when_built() -> None:
    """max_tokens=0 is refused at construction, naming the value."""
    with pytest.raises(ConfigurationError, match="max_tokens"):
        fit_messages_runnable(0)


def test_token_counter_counts_by_the_chat_rule() -> None:
    """Hand count with the char tokenizer: 3 + len('user') + len('hello') + priming 3."""
    count = token_counter(CharTokenizer())
    assert count([HumanMessage("hello")]) == 3 + 4 + 5 + 3
    assert count([]) == 3


def test_token_counter_drives_trim_messages_within_the_cap() -> None:
    """trim_messages(token_counter=ours) keeps a prompt our rule counts within the cap."""
    history = [SystemMessage("be brief"), *_history()]
    cap = 100
    kept = trim_messages(
        history,
        max_tokens=cap,
        token_counter=token_counter(CharTokenizer()),
        strategy="last",
        include_system=True,
        start_on="human",
    )
    assert kept[0].type == "system"
    assert kept[-1].content == "and now?"
    assert count_prompt(kept, CharTokenizer(), format="langchain") <= cap
    assert len(kept) < len(history)


def test_runnable_drops_a_tool_call_whose_result_is_missing() -> None:
    """An old call without its ToolMessage is not sent (the copy loses the call; the
    caller's message keeps it)."""
    lost = AIMessage("checking", tool_calls=[{"name": "search", "args": {}, "id": "gone"}])
    history = [HumanMessage("hi"), lost, HumanMessage("well?")]
    sent = fit_messages_runnable(1_000, tokenizer=CharTokenizer()).invoke(history)
    assert [(m.type, m.content) for m in sent] == [
        ("human", "hi"),
        ("ai", "checking"),
        ("human", "well?"),
    ]
    assert sent[1].tool_calls == []
    assert lost.tool_calls[0]["id"] == "gone"


def test_the_runnable_names_an_input_it_cannot_read() -> None:
    """Input that is not messages gives ConfigurationError naming its type, not LangChain's
    raw NotImplementedError/ValueError."""
    from ctxbudget import ConfigurationError
    from ctxbudget.integrations.langchain import fit_messages_runnable

    fitter = fit_messages_runnable(100)
    with pytest.raises(ConfigurationError, match=r"cannot read its input \(list\)"):
        fitter.invoke([42])
    with pytest.raises(ConfigurationError, match=r"cannot read its input \(list\)"):
        fitter.invoke([{"content": "no role"}])
