"""Long chat histories: fitting costs follow the window, not the stored history (issue 10).

Run by hand from the repository root::

    python -m benchmarks.history                  # 100k, 1M and 10M-token histories
    python -m benchmarks.history --sizes 100000 --repeats 3

The "W1" history is the shared corpus's real ShareGPT conversations concatenated (repeated past
its 3.3M tokens for 10M), as OpenAI chat messages. For each size, side by side in one run
(median of ``--repeats``, cold: a new count cache every run):

- ``fit_messages(history, window)`` against one encode of the kept messages' text;
- ``build_context`` with the history as a section (``history_items``) against one encode of
  the assembled output;
- LangChain's ``trim_messages`` (``strategy="last"``, the tiktoken counter of LangChain's
  guide) on the same history, where it finishes within ``--peer-timeout`` seconds.

Goal: fit_messages and the history build <= 3x one encode of what they keep, at every size.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks import corpus
from ctxbudget import build_context, fit_messages, get_tokenizer, history_items
from ctxbudget.messages import _fitting

WINDOW = 16_000


def w1_history(tokens: int) -> list[dict[str, str]]:
    """Real messages, oldest first, until their content holds ``tokens`` o200k tokens."""
    enc = get_tokenizer("o200k_base")
    out: list[dict[str, str]] = []
    total = 0
    while total < tokens:
        for conv in corpus.conversations():
            for m in conv:
                if m["role"] not in ("user", "assistant") or not m["content"]:
                    continue
                out.append({"role": m["role"], "content": m["content"]})
                total += len(m["content"]) // 4  # cheap running estimate
                if total >= tokens:
                    break
            if total >= tokens:
                break
    del enc
    return out


def median_ms(fn: Callable[[], Any], repeats: int, fresh: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        fresh()
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def fresh_counts() -> None:
    _fitting.COUNTS.clear()


def encode_ms(text: str, repeats: int) -> float:
    enc = get_tokenizer("o200k_base")
    return median_ms(lambda: enc.count(text), repeats, lambda: None)


def langchain_ms(history: list[dict[str, str]], repeats: int, timeout: float) -> float | None:
    try:
        from langchain_core.messages import AIMessage, HumanMessage, trim_messages
    except ImportError:
        return None
    enc = get_tokenizer("o200k_base")
    cls = {"user": HumanMessage, "assistant": AIMessage}
    messages = [cls[m["role"]](m["content"]) for m in history]

    def counter(msgs: list[Any]) -> int:
        total = 3
        for m in msgs:
            total += 3 + enc.count({"human": "user", "ai": "assistant"}.get(m.type, m.type))
            total += enc.count(m.content)
        return total

    start = time.perf_counter()
    trim_messages(messages, max_tokens=WINDOW, strategy="last", token_counter=counter,
                  include_system=True, start_on="human")  # fmt: skip
    first = (time.perf_counter() - start) * 1000
    if first > timeout * 1000:
        return first
    rest = [first]
    for _ in range(repeats - 1):
        start = time.perf_counter()
        trim_messages(messages, max_tokens=WINDOW, strategy="last", token_counter=counter,
                      include_system=True, start_on="human")  # fmt: skip
        rest.append((time.perf_counter() - start) * 1000)
    return statistics.median(rest)


def run(sizes: list[int], repeats: int, peer_timeout: float) -> list[dict[str, Any]]:
    rows = []
    get_tokenizer("o200k_base")
    for size in sizes:
        history = w1_history(size)
        fitted = fit_messages(history, WINDOW)
        kept_text = "\n".join(m["content"] for m in fitted.messages)
        fit = median_ms(lambda h=history: fit_messages(h, WINDOW), repeats, fresh_counts)
        built = build_context({"history": history_items(history)}, max_tokens=WINDOW)
        build = median_ms(
            lambda h=history: build_context({"history": history_items(h)}, max_tokens=WINDOW),
            repeats,
            fresh_counts,
        )
        rows.append(
            {
                "size": size,
                "messages": len(history),
                "kept": len(fitted.messages),
                "fit_ms": fit,
                "encode_kept_ms": encode_ms(kept_text, repeats),
                "build_ms": build,
                "encode_out_ms": encode_ms(built.text, repeats),
                "langchain_ms": langchain_ms(history, min(repeats, 3), peer_timeout),
            }
        )
        print(rows[-1], flush=True)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| history (tokens) | messages | kept | fit_messages (ms) | encode kept once (ms) "
        "| fit / encode | history build (ms) | encode output (ms) | build / encode "
        "| LangChain trim_messages (ms) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lc = r["langchain_ms"]
        lines.append(
            f"| {r['size']:,} | {r['messages']:,} | {r['kept']} | {r['fit_ms']:.1f} "
            f"| {r['encode_kept_ms']:.1f} | {r['fit_ms'] / r['encode_kept_ms']:.2f}x "
            f"| {r['build_ms']:.1f} | {r['encode_out_ms']:.1f} "
            f"| {r['build_ms'] / r['encode_out_ms']:.2f}x "
            f"| {'n/a' if lc is None else f'{lc:,.0f}'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peer-timeout", type=float, default=60.0)
    args = parser.parse_args()
    print(markdown(run(args.sizes, args.repeats, args.peer_timeout)))


if __name__ == "__main__":
    main()
