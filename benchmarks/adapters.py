"""The framework adapters on real conversations (issue 15): time per model call, and what
the model receives, beside LangChain's own ``trim_messages``.

Run by hand from the repository root::

    python -m benchmarks.adapters            # 1,000-message histories, 8,000-token window
    python -m benchmarks.adapters --smoke    # a short history, to see that it runs

The history is real ShareGPT turns (the shared corpus, ``CTXBUDGET_DATA``), oldest first, with
a tool call and its result after every fifth user message, as LangChain messages (and as
Pydantic AI messages for its processor); o200k_base. Each row: the median time of one call
(the history already counted once, as in an agent loop that re-fits every turn), the tokens of
what is sent by our rule, whether that is within the window, and whether a tool call was sent
without its result (or a result without its call).
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    trim_messages,
)
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

from benchmarks import corpus
from benchmarks.harness import median_s
from ctxbudget import count_prompt
from ctxbudget.integrations.langchain import fit_messages_runnable, token_counter
from ctxbudget.integrations.langchain_agents import ContextBudgetMiddleware
from ctxbudget.integrations.pydantic_ai import FORMAT, fit_history

TOKENIZER = "o200k_base"


def turns(count: int) -> list[dict[str, str]]:
    """``count`` user/assistant messages of the corpus, conversations one after another."""
    stream = (m for c in corpus.conversations() for m in c if m["content"].strip())
    return list(itertools.islice(stream, count))


def langchain_history(count: int) -> list[BaseMessage]:
    out: list[BaseMessage] = [SystemMessage("You are a helpful assistant.")]
    users = 0
    for m in turns(count):
        if m["role"] == "user":
            out.append(HumanMessage(m["content"]))
            users += 1
            if users % 5 == 0:
                call = {"name": "search", "args": {"q": m["content"][:40]}, "id": f"c{users}"}
                out.append(AIMessage("", tool_calls=[call]))
                out.append(ToolMessage(m["content"][:400], tool_call_id=f"c{users}"))
        else:
            out.append(AIMessage(m["content"]))
    return out


def pydantic_history(messages: list[BaseMessage]) -> list[ModelMessage]:
    out: list[ModelMessage] = []
    for m in messages:
        text = str(m.content)
        if isinstance(m, SystemMessage):
            out.append(ModelRequest(parts=[SystemPromptPart(text)]))
        elif isinstance(m, HumanMessage):
            out.append(ModelRequest(parts=[UserPromptPart(text)]))
        elif isinstance(m, ToolMessage):
            part = ToolReturnPart("search", text, tool_call_id=m.tool_call_id)
            out.append(ModelRequest(parts=[part]))
        elif isinstance(m, AIMessage) and m.tool_calls:
            c = m.tool_calls[0]
            out.append(
                ModelResponse(parts=[ToolCallPart(c["name"], c["args"], tool_call_id=c["id"])])
            )
        else:
            out.append(ModelResponse(parts=[TextPart(text)]))
    return out


def split_pairs(
    messages: list[Any], calls: Callable[[Any], set[str]], answers: Callable[[Any], set[str]]
) -> bool:
    made = set().union(*(calls(m) for m in messages)) if messages else set()
    answered = set().union(*(answers(m) for m in messages)) if messages else set()
    return made != answered


def lc_calls(m: Any) -> set[str]:
    return {c["id"] for c in m.tool_calls} if isinstance(m, AIMessage) else set()


def lc_answers(m: Any) -> set[str]:
    return {m.tool_call_id} if isinstance(m, ToolMessage) else set()


def row(
    name: str,
    fn: Callable[[], list[Any]],
    *,
    fmt: Any,
    window: int,
    repeats: int,
    pairs: tuple[Callable[[Any], set[str]], Callable[[Any], set[str]]],
) -> dict[str, Any]:
    sent = fn()  # the first call counts the history
    seconds = median_s(fn, repeats)
    tokens = count_prompt(sent, TOKENIZER, format=fmt)
    return {
        "name": name,
        "ms": seconds * 1000,
        "messages": len(sent),
        "tokens": tokens,
        "within": tokens <= window,
        "split": split_pairs(sent, *pairs),
    }


def run(count: int, window: int, repeats: int) -> list[dict[str, Any]]:
    history = langchain_history(count)
    pyd = pydantic_history(history)
    runnable = fit_messages_runnable(window, tokenizer=TOKENIZER)
    middleware = ContextBudgetMiddleware(window, tokenizer=TOKENIZER)
    summarizing = ContextBudgetMiddleware(window, tokenizer=TOKENIZER, summarize=True)
    processor = fit_history(window, tokenizer=TOKENIZER)
    ours = token_counter(TOKENIZER)
    lc = (lc_calls, lc_answers)
    pa = (lambda m: set(FORMAT.calls(m)), lambda m: set(FORMAT.answers(m)))

    def trim(counter: Any) -> Callable[[], list[Any]]:
        return lambda: trim_messages(
            history,
            max_tokens=window,
            token_counter=counter,
            strategy="last",
            include_system=True,
            start_on="human",
        )

    grown = itertools.count(len(history) - 2 * repeats - 2)
    sliding = ContextBudgetMiddleware(window, tokenizer=TOKENIZER, summarize=True)

    def slide() -> list[Any]:
        end = next(grown)  # one more message each call, as an agent loop grows
        return [history[0], *sliding.fit_request(history[1:end], history[0])]

    return [
        row(
            "ContextBudgetMiddleware(summarize=True), one message more each call",
            slide,
            fmt="langchain",
            window=window,
            repeats=repeats,
            pairs=lc,
        ),
        row(
            "fit_messages_runnable (LCEL)",
            lambda: runnable.invoke(history),
            fmt="langchain",
            window=window,
            repeats=repeats,
            pairs=lc,
        ),
        row(
            "ContextBudgetMiddleware",
            lambda: [history[0], *middleware.fit_request(history[1:], history[0])],
            fmt="langchain",
            window=window,
            repeats=repeats,
            pairs=lc,
        ),
        row(
            "ContextBudgetMiddleware(summarize=True)",
            lambda: [history[0], *summarizing.fit_request(history[1:], history[0])],
            fmt="langchain",
            window=window,
            repeats=repeats,
            pairs=lc,
        ),
        row(
            "trim_messages + our token_counter",
            trim(ours),
            fmt="langchain",
            window=window,
            repeats=repeats,
            pairs=lc,
        ),
        row(
            'trim_messages + token_counter="approximate"',
            trim("approximate"),
            fmt="langchain",
            window=window,
            repeats=repeats,
            pairs=lc,
        ),
        row(
            "Pydantic AI fit_history",
            lambda: processor(pyd),
            fmt=FORMAT,
            window=window,
            repeats=repeats,
            pairs=pa,
        ),
    ]


def markdown(rows: list[dict[str, Any]], count: int, window: int) -> str:
    lines = [
        f"History: {count} ShareGPT messages plus tool exchanges; window {window:,} tokens; "
        "o200k_base; median of repeated calls.",
        "",
        "| adapter | ms per call | messages sent | tokens (our rule) | within window "
        "| tool pair split |",
        "|---|---:|---:|---:|---|---|",
    ]
    lines.extend(
        f"| {r['name']} | {r['ms']:.2f} | {r['messages']} | {r['tokens']:,} | "
        f"{'yes' if r['within'] else 'NO'} | {'YES' if r['split'] else 'no'} |"
        for r in rows
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--messages", type=int, default=1_000)
    parser.add_argument("--window", type=int, default=8_000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    count, repeats = (60, 2) if args.smoke else (args.messages, args.repeats)
    print(markdown(run(count, args.window, repeats), count, args.window))


if __name__ == "__main__":
    main()
