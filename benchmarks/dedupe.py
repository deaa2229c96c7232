"""The ``dedupe`` reducer on real text: today's candidate index against the all-pairs original.

Items are real lines from the shared corpus (ShareGPT message lines, which repeat and nearly
repeat on their own, and Jargon File entries) with planted near-duplicates: copies of earlier
items with one word dropped, added or replaced, or their case and spacing changed. Run by hand
from the repository root::

    python -m benchmarks.dedupe                  # 1k, 4.4k and 10k items
    python -m benchmarks.dedupe --smoke          # 200 and 500 items, one repeat
    python -m benchmarks.dedupe --json out.json  # the rows as JSON too

Each cell is the median wall time of ``--repeats`` calls of the reducer with the character
tokenizer (``ctxbudget.testing.CharTokenizer``), so it times the reducer and not a BPE count;
the ``o200k`` column adds the two counts a real tokenizer makes for ``tokens_freed``, and
the CPU column (this process's CPU time) and the load average show how much of a wall time
is other work on a shared machine. The old
all-pairs reducer (a copy of the code before the index, kept below) is timed up to
``--old-max`` items (4.4k by default: at 10k it takes about a minute a call), and wherever both
ran the kept items and the report must be equal. Prints a Markdown table with the goal
(<= 500 ms at 10k items) met or not met.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks import corpus
from ctxbudget import get_tokenizer
from ctxbudget.memory import Reducer, Reduction, dedupe
from ctxbudget.testing import CharTokenizer

SIZES = (1_000, 4_400, 10_000)
SMOKE_SIZES = (200, 500)
GOAL_ITEMS = 10_000
GOAL_MS = 500.0
_WORDS = re.compile(r"\w+")


def old_dedupe(threshold: float = 0.9) -> Reducer:
    """The reducer as it was before the candidate index: every item against every kept one."""

    def run(items: list[str], tokenizer: Any) -> tuple[list[str], Reduction]:
        kept_rev: list[str] = []
        seen_exact: set[str] = set()
        seen_words: list[frozenset[str]] = []
        removed: list[str] = []
        for item in reversed(items):
            words = _WORDS.findall(item.lower())
            key = " ".join(words)
            word_set = frozenset(words)
            near = any(
                word_set and len(word_set & other) / len(word_set | other) >= threshold
                for other in seen_words
            )
            if key in seen_exact or near:
                removed.append(item)
                continue
            seen_exact.add(key)
            seen_words.append(word_set)
            kept_rev.append(item)
        kept = kept_rev[::-1]
        removed.reverse()
        freed = tokenizer.count("\n".join(items)) - tokenizer.count("\n".join(kept))
        return kept, Reduction("dedupe", removed, [], freed)

    return run


def _plant(item: str, rng: random.Random) -> str:
    """A near-duplicate of ``item``: one word dropped, added or replaced, or case and spacing."""
    words = item.split()
    kind = rng.randrange(4)
    if kind == 0 and len(words) > 1:
        del words[rng.randrange(len(words))]
    elif kind == 1:
        words.insert(rng.randrange(len(words) + 1), rng.choice(("also", "now", "really", "the")))
    elif kind == 2 and words:
        words[rng.randrange(len(words))] = rng.choice(("today", "soon", "maybe", "there"))
    else:
        return "  ".join(w.upper() if rng.random() < 0.3 else w for w in words)
    return " ".join(words)


def make_items(n: int, seed: int = 11) -> list[str]:
    """``n`` items of real text, oldest first: about 80% ShareGPT message lines (in file order,
    from a seeded offset), 10% Jargon File entries and 10% planted near-duplicates."""
    rng = random.Random(seed)
    lines = [
        line.strip()
        for conv in corpus.conversations()
        for message in corpus.message_items(conv)
        for line in message.split("\n")
        if line.strip()
    ]
    jargon = corpus.jargon_entries()
    start = rng.randrange(max(1, len(lines) - n))
    items: list[str] = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.1 and items:
            items.append(_plant(rng.choice(items[-500:]), rng))
        elif roll < 0.2:
            items.append(rng.choice(jargon))
        else:
            items.append(lines[(start + i) % len(lines)])
    return items


def timed(
    reducer: Reducer, items: list[str], tokenizer: Any, repeats: int
) -> tuple[float, float, Any]:
    """Median wall and CPU (this process) times of ``repeats`` calls of ``reducer``, in
    milliseconds, and its result."""
    wall, cpu = [], []
    result = None
    for _ in range(repeats):
        begin, begin_cpu = time.perf_counter(), time.process_time()
        result = reducer(items, tokenizer)
        wall.append(time.perf_counter() - begin)
        cpu.append(time.process_time() - begin_cpu)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000, result


def run(sizes: Sequence[int], repeats: int, old_max: int) -> list[dict[str, Any]]:
    """One row per size: items, removed, old and new medians (ms), and whether they agree."""
    char = CharTokenizer()
    o200k = get_tokenizer("o200k_base")
    new, old = dedupe(), old_dedupe()
    rows = []
    for n in sizes:
        items = make_items(n)
        new_ms, new_cpu, result = timed(new, items, char, repeats)
        row: dict[str, Any] = {
            "items": n,
            "removed": len(result[1].removed),
            "new_ms": new_ms,
            "new_cpu_ms": new_cpu,
            "new_o200k_ms": timed(new, items, o200k, repeats)[0],
            "old_ms": None,
            "old_cpu_ms": None,
            "equal": None,
            "load": os.getloadavg()[0],
        }
        if n <= old_max:
            row["old_ms"], row["old_cpu_ms"], expected = timed(
                old, items, char, max(1, min(repeats, 3))
            )
            row["equal"] = result == expected
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], old_max: int) -> str:
    """The rows as a Markdown table, with the goal line."""
    out = [
        "| items | removed | old (all pairs) | new | speed-up | new, CPU | new, o200k counts "
        "| equal | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        old = f"{r['old_ms']:,.1f} ms" if r["old_ms"] is not None else f"not run (> {old_max:,})"
        speed = f"{r['old_ms'] / r['new_ms']:,.0f}x" if r["old_ms"] is not None else "-"
        equal = {None: "-", True: "yes", False: "**NO**"}[r["equal"]]
        out.append(
            f"| {r['items']:,} | {r['removed']:,} | {old} | {r['new_ms']:,.1f} ms | {speed} "
            f"| {r['new_cpu_ms']:,.1f} ms | {r['new_o200k_ms']:,.1f} ms | {equal} "
            f"| {r['load']:.1f} |"
        )
    goal = [r for r in rows if r["items"] == GOAL_ITEMS]
    if goal:
        met = goal[0]["new_ms"] <= GOAL_MS and goal[0]["equal"] is not False
        verdict = "met" if met else "not met"
        out.append("")
        out.append(
            f"Goal <= {GOAL_MS:.0f} ms at {GOAL_ITEMS:,} items: **{verdict}** "
            f"({goal[0]['new_ms']:,.1f} ms)."
        )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if old and new results differ anywhere."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dedupe", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="200 and 500 items, one repeat")
    parser.add_argument("--repeats", type=int, default=5, help="calls per cell (median)")
    parser.add_argument("--old-max", type=int, default=4_400, help="largest size for old")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    sizes = SMOKE_SIZES if args.smoke else SIZES
    repeats = 1 if args.smoke else args.repeats
    rows = run(sizes, repeats, args.old_max)
    print(markdown(rows, args.old_max))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)
    return 1 if any(r["equal"] is False for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
