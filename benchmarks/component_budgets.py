"""Component budgets (issue 14): what true utilization shows, what adaptation costs.

Run by hand from the repository root::

    python -m benchmarks.component_budgets            # 40 builds of a real agent session
    python -m benchmarks.component_budgets --smoke    # 8 builds, to see that it runs

Each build fills the ``agent-session`` preset's five components from the shared corpus
(o200k_base, a 16,000-token cap): ``system_context`` a fixed instruction line,
``working_memory`` the newest 40 Jargon File entries of a sliding window, ``knowledge_base``
one Python documentation page, ``agent_context`` nothing (no other agents), and
``interaction_buffer`` one ShareGPT conversation; build ``i`` takes the ``i``-th page and
conversation. Measures:

- **bands**: per component, the share of builds banded low/moderate/high/critical by the old
  measure (used over what the build gave) and by true utilization (used over the fair share).
- **adaptation**: the shares after adapting every 10 builds, the median time of a build
  through ``AdaptiveBuilder`` beside a plain ``build_context`` of the same sections (run just
  before it, so the adaptive build finds warm caches: compare them only as "no visible
  overhead"), and the median time of ``UsageTracker.record`` of one build, which is all the
  wrapper adds to a build besides every 10th build's adjustment.
- **manager**: ``BudgetManager.allocate`` and ``report()`` calls per second.

Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks import corpus
from ctxbudget import BudgetManager, build_context, get_tokenizer, utilization_band
from ctxbudget.agents import AdaptiveBuilder, UsageTracker, fair_shares

TOK = get_tokenizer("o200k_base")
CAP = 16_000
COMPONENTS = (
    "system_context",
    "working_memory",
    "knowledge_base",
    "agent_context",
    "interaction_buffer",
)


def sessions(count: int) -> list[dict[str, str | list[str]]]:
    """``count`` builds' sections from the shared corpus (see the module)."""
    pages = list(corpus.pydoc_pages().values())
    talks = [c for c in corpus.conversations() if len(c) >= 4]
    jargon = corpus.jargon_entries()
    return [
        {
            "system_context": "You are a careful engineering agent. Cite the docs you use.",
            "working_memory": jargon[i * 10 : i * 10 + 40],
            "knowledge_base": pages[i % len(pages)],
            "agent_context": "",
            "interaction_buffer": corpus.message_items(talks[i % len(talks)]),
        }
        for i in range(count)
    ]


def bands(builds: list[dict[str, str | list[str]]]) -> dict[str, tuple[Counter[str], Counter[str]]]:
    """Component -> (old bands, true bands) over the builds."""
    out = {c: (Counter[str](), Counter[str]()) for c in COMPONENTS}
    for sections in builds:
        result = build_context(sections, tokenizer=TOK, preset="agent-session", max_tokens=CAP)
        shares = fair_shares(result)
        for r in result.sections:
            old = min(1.0, r.tokens_used / r.tokens_allocated) if r.tokens_allocated else 0.0
            true = min(1.0, r.tokens_used / shares[r.name]) if shares[r.name] > 0 else 0.0
            out[r.name][0][utilization_band(old)] += 1
            out[r.name][1][utilization_band(true)] += 1
    return out


def adaptation(
    builds: list[dict[str, str | list[str]]],
) -> tuple[dict[str, float], float, float, float]:
    """Shares after adapting every 10 builds; median seconds adaptive, plain and record."""
    with tempfile.TemporaryDirectory() as tmp:
        builder = AdaptiveBuilder(
            "agent-session",
            every=10,
            write_to=Path(tmp) / "tuned.yaml",
            tokenizer=TOK,
            max_tokens=CAP,
        )
        adaptive, plain, record = [], [], []
        for sections in builds:
            start = time.perf_counter()
            result = build_context(sections, tokenizer=TOK, preset=builder.preset, max_tokens=CAP)
            plain.append(time.perf_counter() - start)
            start = time.perf_counter()
            UsageTracker().record(result)
            record.append(time.perf_counter() - start)
            start = time.perf_counter()
            builder.build(sections)
            adaptive.append(time.perf_counter() - start)
        return (
            builder.shares,
            statistics.median(adaptive),
            statistics.median(plain),
            statistics.median(record),
        )


def manager_rates(calls: int) -> tuple[float, float]:
    """``allocate`` and ``report()`` calls per second on the five components."""
    manager = BudgetManager(
        200_000,
        {"system_context": 10, "working_memory": 30, "knowledge_base": 20,
         "agent_context": 15, "interaction_buffer": 25},
        cleanup={c: (lambda needed: needed) for c in COMPONENTS},
    )  # fmt: skip
    start = time.perf_counter()
    for i in range(calls):
        manager.allocate(COMPONENTS[i % 5], 700)
    allocate = calls / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(calls // 10):
        manager.report()
    return allocate, (calls // 10) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="8 builds instead of 40")
    args = parser.parse_args()
    builds = sessions(8 if args.smoke else 40)
    print(f"## Bands over {len(builds)} builds (o200k_base, cap {CAP:,})\n")
    print("| component | old measure | true utilization |")
    print("|---|---|---|")
    for name, (old, true) in bands(builds).items():
        show = ", ".join
        print(
            f"| {name} | {show(f'{b} {n}' for b, n in sorted(old.items()))} "
            f"| {show(f'{b} {n}' for b, n in sorted(true.items()))} |"
        )
    shares, adaptive_s, plain_s, record_s = adaptation(builds)
    print("\n## Adaptation (every 10 builds)\n")
    print("| component | share after |")
    print("|---|---:|")
    for name, share in shares.items():
        print(f"| {name} | {share:.1f}% |")
    print(
        f"\nmedian build: plain {plain_s * 1000:.1f} ms, through AdaptiveBuilder "
        f"{adaptive_s * 1000:.1f} ms; UsageTracker.record {record_s * 1e6:.0f} us"
    )
    allocate, report = manager_rates(2_000 if args.smoke else 50_000)
    print(f"\nBudgetManager: {allocate:,.0f} allocate/s, {report:,.0f} report()/s")


if __name__ == "__main__":
    main()
