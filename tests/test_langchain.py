"""The optional LangChain adapter fits message objects by the same rules."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from ctxbudget.integrations.langchain import fit_langchain_messages


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
