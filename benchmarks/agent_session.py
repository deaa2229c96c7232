"""A long-lived agent session on real text: does utilization stay in the reference's target band?

Run by hand from the repository root::

    CTXBUDGET_DATA=../shared/data python -m benchmarks.agent_session            # 100 turns
    CTXBUDGET_DATA=../shared/data python -m benchmarks.agent_session --turns 300 --seeds 5

The session has the reference's five components (system_context 10%, working_memory 30%,
knowledge_base 20%, agent_context 15%, interaction_buffer 25% of the window), each a
:class:`~ctxbudget.agents.ComponentMemory` with its reference cleanup pipeline, under one
:class:`~ctxbudget.agents.BudgetManager` with the reference's target bands. A simulated clock
advances 5 minutes a turn (100 turns are 8 h 20 min, so every age rule of the pipelines comes
due). Each turn is a task (1-4 files, 0-2 subagents, an estimate of 5-30 minutes), and, as an
agent would:

- the :class:`~ctxbudget.agents.PredictiveManager` predicts the task's needs and cleans up ahead
  where they do not fit;
- the interaction buffer gets the turn's user message and the assistant's reply (ShareGPT);
- working memory gets each file the agent opened (Jargon File entries as content), every third
  turn a traceback-like debug note, and the task's context, which completes 2-6 turns later;
- the knowledge base loads a documentation section (Python docs) or a skill, and re-reads
  (touches) one loaded recently;
- agent context gets each subagent's state, which completes 1-4 turns later;
- every addition goes through ``manager.allocate`` (a shortfall runs the component's pipeline);
  a denied or partial grant is given back and counted as a shortfall;
- the predictor observes the tokens the task really added per component (it calibrates);
- at the end of the turn ``manager.enforce_targets()`` cleans any component above its band;
- every 20 turns after the first 20, ``adjust_allocations`` (the reference's rule) re-shares the
  four growing components from their usage (``BudgetManager.set_shares``); the system context, a
  fixed prompt, keeps its share.

Reported per run: the share of turns whose overall utilization (after the turn) lies in the
overall target band (75-85%), the same after the first 20 turns (the window fills up), the
prediction error per task and over the tokens of the last 50 turns together, each component's
share of turns within its own band, full grants per component, and the longest run of turns in
which a component's request was not granted in full (a starving component has long runs).
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from benchmarks import corpus

SHARES = {
    "system_context": 10.0,
    "working_memory": 30.0,
    "knowledge_base": 20.0,
    "agent_context": 15.0,
    "interaction_buffer": 25.0,
}
START = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
TURN = timedelta(minutes=5)
WARM_UP = 20


@dataclass
class SessionRun:
    """What one simulated session measured (utilizations are fractions)."""

    turns: int
    overall: list[float] = field(default_factory=list)
    components: dict[str, list[float]] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    full: dict[str, int] = field(default_factory=dict)
    longest_shortfall: dict[str, int] = field(default_factory=dict)
    cleanups: int = 0
    #: the predictive manager's error over the second half of the turns
    prediction: Any = None
    #: |predicted - actual| / actual of the second half's tokens summed over its turns
    horizon_error: float = 0.0
    #: the shares after each adjustment
    shares: list[dict[str, float]] = field(default_factory=list)

    def in_band(self, low: float = 0.75, high: float = 0.85, *, skip: int = 0) -> float:
        """Share of turns (after the first ``skip``) whose overall utilization is in band."""
        kept = self.overall[skip:]
        return sum(low <= u <= high for u in kept) / len(kept)


class _Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _texts(rng: random.Random) -> dict[str, list[str]]:
    """The real text the session draws from, shuffled by ``rng``."""
    exchanges = []
    for conv in corpus.conversations():
        items = corpus.message_items(conv)
        exchanges += [items[i : i + 2] for i in range(0, len(items) - 1, 2)]
    rng.shuffle(exchanges)
    sections = []
    for page in corpus.pydoc_pages().values():
        parts = [p.strip() for p in page.split("\n\n") if len(p.strip()) > 200]
        sections += ["\n\n".join(parts[i : i + 6]) for i in range(0, len(parts), 6)]
    rng.shuffle(sections)
    jargon = list(corpus.jargon_entries())
    rng.shuffle(jargon)
    return {"exchanges": exchanges, "docs": sections, "jargon": jargon}  # type: ignore[dict-item]


def simulate(
    turns: int = 100, *, total: int = 60_000, seed: int = 0, adapt_every: int | None = 20
) -> SessionRun:
    """Run one session of ``turns`` turns in a window of ``total`` tokens (see the module)."""
    from ctxbudget.agents import (
        BudgetManager,
        ComponentMemory,
        PredictiveManager,
        Task,
        UsageTracker,
        adjust_allocations,
    )
    from ctxbudget.memory import MemoryItem

    rng = random.Random(seed)
    texts: dict[str, Any] = _texts(rng)
    clock = _Clock()
    memories = {
        name: ComponentMemory(name, clock=clock) for name in SHARES if name != "system_context"
    }
    manager = BudgetManager(
        total, SHARES, cleanup={name: memory.cleanup for name, memory in memories.items()}
    )
    for name, memory in memories.items():
        memory.capacity = manager.limits[name]
    predictor = PredictiveManager(manager, calibrate=0.3)
    shares, tracker = dict(SHARES), UsageTracker()
    run = SessionRun(turns)
    jargon = itertools.cycle(texts["jargon"])  # entries in turn, again from the start if need be
    pending: list[tuple[int, str, MemoryItem]] = []  # (turn due, component, item) to complete
    streak = dict.fromkeys(SHARES, 0)
    for name in SHARES:
        run.components[name] = []
        run.requests[name] = run.full[name] = run.longest_shortfall[name] = 0
    # the fixed system prompt and tool definitions: 97% of their share, the middle of its band
    system = manager.allocate("system_context", int(0.97 * manager.limits["system_context"]))
    run.requests["system_context"] = 1
    run.full["system_context"] = int(system.outcome == "granted")

    def add(component: str, item: MemoryItem) -> None:
        memory = memories[component]
        tokens = memory.tokenizer.count(item)
        spent[component] = spent.get(component, 0) + tokens
        decision = manager.allocate(component, tokens)
        run.requests[component] += 1
        if decision.outcome in ("granted", "granted_after_cleanup"):
            run.cleanups += decision.outcome == "granted_after_cleanup"
            memory.add(item.evolve(tokens=tokens))
            run.full[component] += 1
            streak[component] = 0
        else:
            manager.release(component, decision.granted)
            streak[component] += 1
            run.longest_shortfall[component] = max(
                run.longest_shortfall[component], streak[component]
            )
        manager.set_used(component, memory.tokens)

    for turn in range(turns):
        clock.now = START + turn * TURN
        now = clock.now
        # the turn's task: how many files it reads and subagents it runs, and its estimate
        task = Task(
            f"turn {turn}",
            files=rng.choice((1, 1, 2, 4)),
            agents=rng.choice((0, 1, 1, 2)),
            estimated_minutes=rng.choice((5, 15, 30)),
        )
        predictor.prepare([task])  # cleans up ahead where the prediction does not fit
        spent: dict[str, int] = {}
        for text in texts["exchanges"][turn % len(texts["exchanges"])]:
            add("interaction_buffer", MemoryItem(text, kind="interaction", created_at=now))
        for _ in range(task.files):
            opened = "\n".join(next(jargon) for _ in range(4))  # a file the agent read
            add("working_memory", MemoryItem(opened, kind="file", last_accessed=now))
        if turn % 3 == 0:
            trace = f"Traceback (turn {turn}): {next(jargon)[:600]}"
            add("working_memory", MemoryItem(trace, kind="debug", created_at=now))
        context = "\n".join(next(jargon) for _ in range(3))
        work = MemoryItem(context, kind="task", task_id=f"t{turn}", created_at=now)
        add("working_memory", work)
        pending.append((turn + rng.randint(2, 6), "working_memory", work))
        kind = "skill" if turn % 4 == 0 else "doc"
        page = texts["docs"][turn % len(texts["docs"])]
        doc = MemoryItem(page, kind=kind, loaded="full", last_accessed=now)
        add("knowledge_base", doc)
        if turn > 2:  # re-read something loaded in the last few turns
            memories["knowledge_base"].touch(
                texts["docs"][(turn - rng.randint(1, 3)) % len(texts["docs"])]
            )
        for agent in range(task.agents):
            state = MemoryItem(
                f"subagent {turn}.{agent} state: {next(jargon)} {next(jargon)}",
                kind="agent_state",
                status="active",
                created_at=now,
            )
            add("agent_context", state)
            pending.append((turn + rng.randint(1, 4), "agent_context", state))
        predictor.observe(task, {name: spent.get(name, 0) for name in memories})
        for due, component, item in [p for p in pending if p[0] == turn]:
            pending.remove((due, component, item))
            memories[component].update(item, status="completed")
            manager.set_used(component, memories[component].tokens)
        manager.enforce_targets()
        for name, memory in memories.items():
            manager.set_used(name, memory.tokens)
        report = manager.report()
        run.overall.append(report.utilization)
        for line in report.components:
            run.components[line.component].append(line.utilization)
            if line.component in memories and turn >= WARM_UP:  # a filling window is no signal
                short = streak[line.component] > 0
                tracker.observe(
                    line.component, used=line.used, allocated=line.allocated, exhausted=short
                )
        if adapt_every and turn >= WARM_UP and (turn + 1 - WARM_UP) % adapt_every == 0:
            # the reference's adjustment, among the components that grow; the system context
            # (a fixed prompt) keeps its share
            grown = adjust_allocations(tracker, {n: shares[n] for n in memories})
            rest = 100.0 - shares["system_context"]
            shares = {"system_context": shares["system_context"]}
            shares |= {n: rest * v / 100.0 for n, v in grown.items()}
            manager.set_shares(shares)
            for name, memory in memories.items():
                memory.capacity = manager.limits[name]
            tracker = UsageTracker()
            run.shares.append(dict(shares))
    run.prediction = predictor.error_report(last=turns // 2)
    late = predictor.history[-(turns // 2) :]
    guessed = sum(sum(p.get(c, 0) for c in a) for p, a in late)
    spent_late = sum(sum(a.values()) for _, a in late)
    run.horizon_error = abs(guessed - spent_late) / spent_late if spent_late else 0.0
    return run


def summary(runs: Sequence[SessionRun]) -> str:
    """A Markdown table of ``runs``."""
    from ctxbudget.agents import DEFAULT_TARGETS

    lines = [
        "| seed | turns in 75-85% | after turn 20 | median overall | cleanups | "
        "prediction error per task / over the last 50 turns | "
        + " | ".join(f"{n}: in band / full grants / longest shortfall" for n in SHARES)
        + " |",
        "|---" * (6 + len(SHARES)) + "|",
    ]
    for seed, run in enumerate(runs):
        cells = []
        for name in SHARES:
            band = DEFAULT_TARGETS.get(name)
            values = run.components[name]
            inside = sum(band.low <= v <= band.high for v in values) / len(values) if band else 0.0
            full = run.full[name] / run.requests[name] if run.requests[name] else 1.0
            cells.append(f"{inside:.0%} / {full:.0%} / {run.longest_shortfall[name]}")
        lines.append(
            f"| {seed} | {run.in_band():.0%} | {run.in_band(skip=WARM_UP):.0%} | "
            f"{statistics.median(run.overall):.1%} | {run.cleanups} | "
            f"{run.prediction.overall:.0%} / {run.horizon_error:.0%} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[SessionRun]:
    """Run the simulation and print its table; returns the runs."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agent_session")
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--total", type=int, default=60_000, help="window in tokens")
    args = parser.parse_args(argv)
    runs = [simulate(args.turns, total=args.total, seed=s) for s in range(args.seeds)]
    print(summary(runs))
    return runs


if __name__ == "__main__":
    main()
