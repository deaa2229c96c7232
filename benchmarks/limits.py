"""The harness's tables beyond the builder: startup, chat histories, huge lines and dedupe.

Each table comes from its own script (``benchmarks/startup.py``, ``history.py``,
``huge_line.py``, ``dedupe.py``), run here in the harness's process, one after the other, so
that ``python -m benchmarks.harness`` writes every goal of the performance issue into
docs/benchmarks.md in one run. Each script also runs alone (``python -m benchmarks.<name>``).
"""

from __future__ import annotations

from typing import Any

from benchmarks import dedupe, history, huge_line, startup


def run(*, smoke: bool, repeats: int) -> dict[str, Any]:
    """Measure every table; returns the raw results by table name."""
    runs = 1 if smoke else 15
    out: dict[str, Any] = {"runs": runs}
    out["startup"] = startup.measure(runs)
    sizes = [20_000] if smoke else [100_000, 1_000_000, 10_000_000]
    out["history"] = history.run(sizes, 1 if smoke else repeats, peer_timeout=60.0)
    out["huge_sizes"] = [0.1] if smoke else [1, 10]
    out["huge_repeats"] = 1 if smoke else 5
    out["huge"] = huge_line.run(
        out["huge_sizes"], [4_000, 8_000], out["huge_repeats"], "o200k_base"
    )
    old_max = 500 if smoke else 4_400
    out["dedupe_old_max"] = old_max
    out["dedupe"] = dedupe.run(
        dedupe.SMOKE_SIZES if smoke else dedupe.SIZES, 1 if smoke else 5, old_max
    )
    return out


def verdict(ok: bool) -> str:
    """How docs/benchmarks.md says whether a goal is met."""
    return "met" if ok else "**not met**"


def goals(extra: dict[str, Any]) -> list[str]:
    """One line per goal these tables measure: met or not, with the number."""
    out = []
    if "startup" in extra:
        after = extra["startup"]["after"]
        g = startup.goals(after)
        out.append(
            f"- `import ctxbudget` <= {startup.IMPORT_GOAL_MS:g} ms: {after['import_ms']:,.0f} "
            f"ms, {verdict(bool(g['import_ms']['met']))} (section 7)."
        )
        out.append(
            f"- CLI process <= {startup.CLI_FACTOR:g}x `import tiktoken` + one vocabulary load: "
            f"{g['cli']['ratio']:.2f}x that limit, {verdict(bool(g['cli']['met']))} (section 7)."
        )
    if extra.get("history"):
        worst_fit = max(r["fit_ms"] / r["encode_kept_ms"] for r in extra["history"])
        worst_build = max(r["build_ms"] / r["encode_out_ms"] for r in extra["history"])
        out.append(
            f"- W1 history <= 3x one encode of what is kept: fit_messages at most "
            f"{worst_fit:.2f}x, {verdict(worst_fit <= 3)}; a history section at most "
            f"{worst_build:.2f}x, {verdict(worst_build <= 3)} (section 8)."
        )
    if extra.get("dedupe"):
        goal = [r for r in extra["dedupe"] if r["items"] == dedupe.GOAL_ITEMS]
        if goal:
            r = goal[0]
            out.append(
                f"- `dedupe` <= {dedupe.GOAL_MS:.0f} ms at {dedupe.GOAL_ITEMS:,} items: "
                f"{r['new_ms']:,.0f} ms ({r['new_cpu_ms']:,.0f} ms of CPU), "
                f"{verdict(r['new_ms'] <= dedupe.GOAL_MS)}; same results as all pairs: "
                f"{'yes' if all(x['equal'] is not False for x in extra['dedupe']) else 'NO'} "
                "(section 10)."
            )
    return out


def markdown(extra: dict[str, Any]) -> list[str]:
    """Sections 7 to 10 of docs/benchmarks.md."""
    if not extra:
        return []
    lines = [
        "",
        "## 7. Startup: `import ctxbudget` and the whole CLI process",
        "",
        "`python -m benchmarks.startup`: fresh processes, bytecode cached, beside "
        '`python -c "import tiktoken"` and one vocabulary load the project\'s offline way.',
        "",
        startup.markdown(extra["startup"], extra["runs"]),
        "",
        "## 8. Long chat histories (W1)",
        "",
        "`python -m benchmarks.history`: the shared corpus's real ShareGPT conversations as OpenAI "
        "chat messages, oldest first; window 16,000 tokens; cold (count cache cleared every "
        "run); LangChain `trim_messages` (strategy `last`, the tiktoken counter of its guide) on "
        "the same history in the same run. Goal: <= 3x one encode of what is kept.",
        "",
        history.markdown(extra["history"]),
        "",
        "## 9. One huge line without spaces",
        "",
        f'`python -m benchmarks.huge_line`: `build_context({{"notes": item, "facts": ...}})` '
        f"with o200k_base (tokenizer preloaded), median of {extra['huge_repeats']} cold "
        "builds. Goal: <= 50 ms at caps of 4k and 8k tokens, whatever the item's size.",
        "",
        extra["huge"],
        "",
        "## 10. The `dedupe` reducer",
        "",
        "`python -m benchmarks.dedupe`: real corpus lines with planted near duplicates; the "
        "all-pairs original (kept in benchmarks/dedupe.py) against the current exact index, "
        "results compared item for item.",
        "",
        dedupe.markdown(extra["dedupe"], extra["dedupe_old_max"]),
    ]
    return lines
