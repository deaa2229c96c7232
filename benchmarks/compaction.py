"""Compaction in long agent loops (issue 12): the prompt cache, small windows, the summary.

Run by hand from the repository root::

    python -m benchmarks.compaction                 # 200-turn loops, 30+ compactions
    python -m benchmarks.compaction --smoke         # a few turns, to see that it runs
    # the code of another commit beside this one, in the same run:
    git worktree add /tmp/old-compaction <commit>
    python -m benchmarks.compaction --baseline-src /tmp/old-compaction/src
    git worktree remove /tmp/old-compaction

Each measure drives ``Compactor`` as an agent loop would, with real ShareGPT turns (user and
assistant messages of the shared corpus, pairs over 3,000 tokens left out), o200k_base:

- **prefix**: a 200-turn loop in a 16k window; the share of requests that start with the whole
  previous request (what a provider's prompt cache can match), beside a sliding window that
  drops the oldest messages until the history fits, and one that keeps the last N messages
  once the history first overflows (it drops the oldest turn every turn: the issue's
  baseline); and the input tokens a cache would not cover (a request's tokens past the
  previous request's prefix).
- **small**: 60 turns at an 900- and a 700-token window with the default settings: how many turns
  run before an error, the largest share of a request the block index takes, and blocks made.
- **summary**: 30+ compactions at a 4,000-token window (1 turn kept, a 600-token summary): the
  share of summary tokens that are repeated prefixes (every ``"summary: "``, and every speaker
  prefix but the last of a line).
- **reproducible**: the same loop twice gives the same requests.
- **facts**: ten one-off facts planted in a real stream (``benchmarks.facts``), ten
  compactions through ``Compactor`` at a 1,000-token summary: facts that survive, with the
  offline summarizer and with an LLM callable that keeps its input's facts, over 5 streams.

The baseline (``--baseline-src``) runs this same module in a subprocess with the other code on
``PYTHONPATH``; the measures use only the API both versions share. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import corpus
from ctxbudget import Compactor, get_tokenizer, message_tokens

ROOT = Path(__file__).resolve().parents[1]
TOK = get_tokenizer("o200k_base")


def real_turns(count: int, limit: int = 3000) -> list[tuple[dict[str, str], dict[str, str]]]:
    """``count`` (user, assistant) pairs of real text, pairs over ``limit`` tokens left out."""
    pairs = []
    for conversation in corpus.conversations():
        msgs = [m for m in conversation if m["content"].strip() and m["role"] != "system"]
        for user, assistant in zip(msgs[::2], msgs[1::2], strict=False):
            if (user["role"], assistant["role"]) != ("user", "assistant"):
                continue
            if TOK.count(user["content"]) + TOK.count(assistant["content"]) > limit:
                continue
            pairs.append(
                (
                    {"role": "user", "content": user["content"]},
                    {"role": "assistant", "content": assistant["content"]},
                )
            )
            if len(pairs) == count:
                return pairs
    return pairs


def request_tokens(request: list[dict[str, Any]]) -> int:
    return 3 + sum(message_tokens(m, TOK) for m in request)


def prefix_share(requests: list[list[dict[str, Any]]], start: int = 0) -> float:
    """Share of requests (from ``start``, after the first) that start with the whole previous
    request."""
    pairs = list(itertools.pairwise(requests))[start:]
    return sum(b[: len(a)] == a for a, b in pairs) / max(1, len(pairs))


def first_full(requests: list[list[dict[str, Any]]], window: int) -> int:
    """Index of the first request over 80% of the window: where steady state begins."""
    return next((i for i, r in enumerate(requests) if request_tokens(r) > 0.8 * window), 0)


def uncached_tokens(requests: list[list[dict[str, Any]]]) -> int:
    """Input tokens past the longest common message prefix with the previous request."""
    total = 0
    previous: list[dict[str, Any]] = []
    for request in requests:
        same = 0
        while same < min(len(request), len(previous)) and request[same] == previous[same]:
            same += 1
        total += 3 + sum(message_tokens(m, TOK) for m in request[same:])
        previous = request
    return total


def sliding_window(turns: list[tuple[dict[str, str], dict[str, str]]], window: int) -> list[Any]:
    """The baseline: each turn, drop the oldest messages until the history fits the window."""
    system = {"role": "system", "content": "You are a careful assistant."}
    history: list[dict[str, str]] = []
    requests = []
    for user, assistant in turns:
        history.append(user)
        while len(history) > 1 and request_tokens([system, *history]) > window:
            history.pop(0)
        requests.append([system, *history])
        history.append(assistant)
    return requests


def last_messages(turns: list[tuple[dict[str, str], dict[str, str]]], window: int) -> list[Any]:
    """The other baseline: once the history first overflows, keep the last N messages that fit
    then (a window that drops the oldest turn every turn), trimming more if still over."""
    system = {"role": "system", "content": "You are a careful assistant."}
    history: list[dict[str, str]] = []
    keep: int | None = None
    requests = []
    for user, assistant in turns:
        history.append(user)
        if keep is not None:
            history = history[-keep:]
        while len(history) > 1 and request_tokens([system, *history]) > window:
            history.pop(0)
            keep = len(history) if keep is None else min(keep, len(history))
        requests.append([system, *history])
        history.append(assistant)
    return requests


def compactor_loop(turns: list[Any], window: int, **kwargs: Any) -> dict[str, Any]:
    """Drive a Compactor; the requests sent, the error that stopped it, if any."""
    agent = Compactor(window, **kwargs)
    agent.add({"role": "system", "content": "You are a careful assistant."})
    requests: list[list[dict[str, Any]]] = []
    error = None
    for user, assistant in turns:
        try:
            requests.append(agent.step(dict(user)))
        except Exception as exc:  # what stopped the loop is the measure
            error = f"{type(exc).__name__}: {exc}"[:120]
            break
        agent.add(dict(assistant))
    return {"agent": agent, "requests": requests, "error": error}


def index_share(request: list[dict[str, Any]], window: int) -> float:
    """Share of the window the archived-block index takes in a request."""
    for m in request:
        content = str(m.get("content") or "")
        if m["role"] == "system" and "Archived blocks (ask to expand one by id):" in content:
            index = content.split("Archived blocks (ask to expand one by id):", 1)[1]
            return TOK.count(index) / window
    return 0.0


def measure(turns: int) -> dict[str, Any]:
    """Every measure of the module for the code on ``sys.path``."""
    pairs = real_turns(turns)
    out: dict[str, Any] = {}
    loop = compactor_loop(pairs, 16_000)
    base = sliding_window(pairs, 16_000)
    fixed = last_messages(pairs, 16_000)
    out["prefix"] = {
        "turns": len(loop["requests"]),
        "ours": prefix_share(loop["requests"]),
        "sliding": prefix_share(base),
        "ours_steady": prefix_share(loop["requests"], first_full(loop["requests"], 16_000)),
        "sliding_steady": prefix_share(base, first_full(base, 16_000)),
        "last_n_steady": prefix_share(fixed, first_full(fixed, 16_000)),
        "last_n_uncached": uncached_tokens(fixed),
        "ours_uncached": uncached_tokens(loop["requests"]),
        "sliding_uncached": uncached_tokens(base),
        "ours_over": sum(request_tokens(r) > 16_000 for r in loop["requests"]),
        "error": loop["error"],
    }
    again = compactor_loop(pairs, 16_000)
    out["reproducible"] = again["requests"] == loop["requests"]
    small_pairs = real_turns(60, limit=300)
    out["small"] = {}
    for window in (900, 700):
        try:
            run = compactor_loop(small_pairs, window)
        except Exception as exc:  # the constructor refusing the window is the measure
            out["small"][str(window)] = {"turns": 0, "error": f"{type(exc).__name__}: {exc}"[:120]}
            continue
        out["small"][str(window)] = {
            "turns": len(run["requests"]),
            "error": run["error"],
            "index_share": max((index_share(r, window) for r in run["requests"]), default=0.0),
            "blocks": len(run["agent"].blocks),
            "over": sum(request_tokens(r) > window for r in run["requests"]),
        }
    summary_run = compactor_loop(
        real_turns(400, limit=900), 4_000, keep_last_turns=1, summary_tokens=600
    )
    agent = summary_run["agent"]
    text = agent.summary
    from benchmarks import facts

    seeds = (1, 2) if turns < 100 else (1, 2, 3, 4, 5)
    out["facts"] = {
        kind: [compact_stream(seed, kind == "llm")[2] for seed in seeds]
        for kind in ("offline", "llm")
    }
    out["summary"] = {
        "blocks": len(agent.blocks),
        "tokens": TOK.count(text),
        "prefix_share": facts.prefix_share(text),
        "summary_prefixes": text.count("summary: "),
    }
    return out


def compact_stream(seed: int, llm: bool) -> tuple[str, int, int]:
    """(summary, compactions, facts surviving) after ten compactions of a planted stream."""
    from benchmarks import facts
    from ctxbudget import LLMSummarizer

    chunks = facts.stream(seed, 10)
    planted = facts.plant(chunks, seed)
    summarizer = LLMSummarizer(facts.fake_model(planted)) if llm else None
    agent = Compactor(64_000, keep_last_turns=1, summary_tokens=1_000, summarizer=summarizer)
    compactions = 0
    for chunk in chunks:
        for item in chunk:
            role, text = item.split(": ", 1)
            agent.add({"role": role if role in ("user", "assistant") else "user", "content": text})
        agent.add({"role": "user", "content": "Let us continue."})
        compactions += agent.compact() is not None
    return agent.summary, compactions, facts.survivors(agent.summary, planted)


def _baseline(src: str, turns: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(src).resolve()), str(ROOT)]))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.compaction", "--turns", str(turns), "--json", "-"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))


def markdown(results: dict[str, dict[str, Any]]) -> str:
    codes = list(results)
    lines = [
        "| measure | " + " | ".join(codes) + " |",
        "|---|" + "---:|" * len(codes),
    ]

    def row(label: str, get: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(str(get(results[c])) for c in codes) + " |")

    row("turns run (16k window)", lambda r: r["prefix"]["turns"])
    row("requests over the window", lambda r: r["prefix"]["ours_over"])
    row("prefix-stable share (goal >= 90%)", lambda r: f"{r['prefix']['ours']:.1%}")
    row("sliding window baseline", lambda r: f"{r['prefix']['sliding']:.1%}")
    row("prefix-stable, once the window is full", lambda r: f"{r['prefix']['ours_steady']:.1%}")
    row("... sliding window (trim to fit)", lambda r: f"{r['prefix']['sliding_steady']:.1%}")
    row("... last N messages", lambda r: f"{r['prefix']['last_n_steady']:.1%}")
    row("input tokens past the cached prefix", lambda r: f"{r['prefix']['ours_uncached']:,}")
    row("... sliding window (trim to fit)", lambda r: f"{r['prefix']['sliding_uncached']:,}")
    row("... last N messages", lambda r: f"{r['prefix']['last_n_uncached']:,}")
    row("two runs identical", lambda r: r["reproducible"])
    for window in ("900", "700"):
        small = lambda r, w=window: r["small"][w]  # noqa: E731
        row(f"{window}-token window: turns run of 60", lambda r, s=small: s(r)["turns"])
        row("... error", lambda r, s=small: s(r)["error"] or "none")
        row("... largest index share", lambda r, s=small: f"{s(r).get('index_share', 0):.0%}")
        row("... blocks", lambda r, s=small: s(r).get("blocks", 0))
    row("facts kept of 10, offline, per stream (goal >= 8)", lambda r: r["facts"]["offline"])
    row("facts kept of 10, LLM that keeps facts (goal 10)", lambda r: r["facts"]["llm"])
    row("summary: blocks compacted", lambda r: r["summary"]["blocks"])
    row(
        "summary: share of its tokens that are repeated prefixes (goal 0)",
        lambda r: f"{r['summary']['prefix_share']:.0%}",
    )
    row('summary: "summary: " occurrences', lambda r: r["summary"]["summary_prefixes"])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="20 turns")
    parser.add_argument("--baseline-src", help="the src folder of the code to compare")
    parser.add_argument("--json", help="write the results as JSON to this file ('-': stdout)")
    args = parser.parse_args()
    turns = 20 if args.smoke else args.turns
    results = {"after": measure(turns)}
    if args.json == "-":
        print(json.dumps(results["after"], default=str))
        return
    if args.baseline_src:
        results = {"before": _baseline(args.baseline_src, turns), **results}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print(markdown(results))


if __name__ == "__main__":
    main()
