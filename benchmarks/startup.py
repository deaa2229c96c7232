"""Startup: ``import ctxbudget`` and the whole ``ctxbudget build`` process, beside tiktoken's.

Issue 11's goals: ``import ctxbudget`` within 80 ms, and the whole process of
``ctxbudget build examples/memory --max-tokens 1500`` within 3x ``python -c "import tiktoken"``
plus one vocabulary load (the time ``tiktoken.get_encoding("o200k_base")`` adds to that process,
from tiktoken's seeded cache). Run by hand from the repository root::

    python -m benchmarks.startup                     # 15 fresh processes per row
    python -m benchmarks.startup --smoke             # 3 per row, to see that it runs
    python -m benchmarks.startup --json startup.json
    # the code of another commit in the same run, side by side:
    git worktree add /tmp/old-startup <commit>
    python -m benchmarks.startup --baseline-src /tmp/old-startup/src
    git worktree remove /tmp/old-startup

Every figure is the median over fresh interpreter processes, the rows taken in turn (and the
baseline's beside each), so a machine that others load slows every row alike. Each command
runs once before timing: that seeds tiktoken's cache and writes bytecode. Bytecode goes to a
temporary ``PYTHONPYCACHEPREFIX`` (``PYTHONDONTWRITEBYTECODE`` is dropped for the children), as
for an installed package, whose ``.pyc`` files pip writes; ``--no-bytecode`` compiles every
module in every process instead. ``import ctxbudget`` is timed inside the process (the
interpreter's own start is not ctxbudget's); every other row is the whole process's wall time.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The goal for ``import ctxbudget``, in milliseconds (issue 11).
IMPORT_GOAL_MS = 80.0
#: The CLI process may take this many times ``python -c "import tiktoken"``, plus one
#: vocabulary load (issue 11).
CLI_FACTOR = 3.0
_TIMED_IMPORT = (
    "import time; t = time.perf_counter(); import ctxbudget; "
    "print((time.perf_counter() - t) * 1000)"
)
_CLI_ARGS = ("build", "examples/memory", "--max-tokens", "1500")


@dataclass(frozen=True)
class Row:
    """One timed command: ``argv`` after the interpreter; ``in_process`` rows print their own
    time in ms, the others are timed from outside."""

    key: str
    label: str
    argv: tuple[str, ...]
    uses_ctxbudget: bool
    in_process: bool = False


def _cli_argv() -> tuple[str, ...]:
    """The ``ctxbudget`` console script of this interpreter's environment, else the same entry
    point through ``-c`` (``python -m ctxbudget.cli`` needs a ``__main__`` older code lacks)."""
    script = Path(sys.executable).with_name("ctxbudget")
    if script.is_file():
        return (str(script), *_CLI_ARGS)
    return ("-c", "import sys; from ctxbudget.cli import main; sys.exit(main())", *_CLI_ARGS)


def rows() -> list[Row]:
    """The commands, in the order they are timed and printed."""
    return [
        Row("python", "`python -c pass`", ("-c", "pass"), False),
        Row("tiktoken", '`python -c "import tiktoken"`', ("-c", "import tiktoken"), False),
        Row(
            "tiktoken_load",
            "`import tiktoken; tiktoken.get_encoding('o200k_base')` (seeded cache)",
            ("-c", "import tiktoken; tiktoken.get_encoding('o200k_base')"),
            False,
        ),
        Row(
            "get_tokenizer",
            "`from ctxbudget import get_tokenizer; get_tokenizer('o200k_base')`",
            ("-c", "from ctxbudget import get_tokenizer; get_tokenizer('o200k_base')"),
            True,
        ),
        Row("import_process", '`python -c "import ctxbudget"`', ("-c", "import ctxbudget"), True),
        Row(
            "import_ms",
            "`import ctxbudget`, timed in the process",
            ("-c", _TIMED_IMPORT),
            True,
            in_process=True,
        ),
        Row("cli", "`ctxbudget build examples/memory --max-tokens 1500`", _cli_argv(), True),
    ]


def _env(src: str | None, pycache: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


def _run_ms(row: Row, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *row.argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = (time.perf_counter() - start) * 1000
    return float(done.stdout.strip().splitlines()[-1]) if row.in_process else elapsed


def measure(
    runs: int, baseline_src: str | None = None, *, bytecode: bool = True
) -> dict[str, dict[str, float]]:
    """Median milliseconds of every row: ``{"after": {key: ms}, "before": {key: ms}}``
    (``"before"`` only with ``baseline_src``, the ``src`` folder of the code to compare)."""
    with tempfile.TemporaryDirectory(prefix="ctxbudget-startup-pyc-") as pycache:
        prefix = pycache if bytecode else None
        codes = {"after": _env(None, prefix)}
        if baseline_src is not None:
            codes["before"] = _env(str(Path(baseline_src).resolve()), prefix)
        samples: dict[str, dict[str, list[float]]] = {code: {} for code in codes}
        for round_ in range(runs + 1):  # round 0 warms up: bytecode, tiktoken's cache
            for row in rows():
                for code, env in codes.items():
                    if code == "before" and not row.uses_ctxbudget:
                        continue  # the same command either way: timed once
                    ms = _run_ms(row, env)
                    if round_:
                        samples[code].setdefault(row.key, []).append(ms)
    medians = {code: {k: statistics.median(v) for k, v in s.items()} for code, s in samples.items()}
    shared = {row.key for row in rows() if not row.uses_ctxbudget}
    for values in medians.values():
        values.update({key: medians["after"][key] for key in shared})
    return medians


def goals(m: dict[str, float]) -> dict[str, dict[str, float | bool]]:
    """Each goal of issue 11 for one code's medians: its limit, the ratio to it, met or not."""
    vocabulary = max(m["tiktoken_load"] - m["tiktoken"], 0.0)
    cli_limit = CLI_FACTOR * m["tiktoken"] + vocabulary
    return {
        "import_ms": {
            "limit": IMPORT_GOAL_MS,
            "ratio": m["import_ms"] / IMPORT_GOAL_MS,
            "met": m["import_ms"] <= IMPORT_GOAL_MS,
        },
        "cli": {
            "limit": cli_limit,
            "ratio": m["cli"] / cli_limit,
            "met": m["cli"] <= cli_limit,
            "vs_tiktoken": m["cli"] / m["tiktoken"],
            "vocabulary": vocabulary,
        },
    }


def markdown(medians: dict[str, dict[str, float]], runs: int) -> str:
    """The Markdown table of every row, and the goals with met / not met."""
    codes = [c for c in ("before", "after") if c in medians]
    head = " | ".join(codes)
    lines = [
        f"Medians of {runs} fresh processes per row, in ms (rows taken in turn).\n",
        f"| command | {head} |",
        "|---|" + "---:|" * len(codes),
    ]
    for row in rows():
        cells = " | ".join(f"{medians[c][row.key]:,.0f}" for c in codes)
        lines.append(f"| {row.label} | {cells} |")
    lines += ["", f"| goal | limit (ms) | {head} | |", "|---|---:|" + "---:|" * len(codes) + "---|"]
    by_code = {c: goals(medians[c]) for c in codes}
    final = by_code[codes[-1]]
    for key, text in (
        ("import_ms", f"`import ctxbudget` <= {IMPORT_GOAL_MS:g} ms"),
        (
            "cli",
            f"CLI process <= {CLI_FACTOR:g}x `import tiktoken` + one vocabulary load "
            f"({final['cli']['vocabulary']:,.0f} ms)",
        ),
    ):
        cells = " | ".join(
            f"{medians[c][key]:,.0f} ({by_code[c][key]['ratio']:.2f}x the limit)" for c in codes
        )
        verdict = "met" if final[key]["met"] else "not met"
        lines.append(f"| {text} | {final[key]['limit']:,.0f} | {cells} | {verdict} |")
    ratios = ", ".join(f"{c} {by_code[c]['cli']['vs_tiktoken']:.1f}x" for c in codes)
    lines.append(f'\nCLI process / `python -c "import tiktoken"`: {ratios}.')
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table (and write ``--json``). Returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per row")
    parser.add_argument("--smoke", action="store_true", help="3 processes per row")
    parser.add_argument("--baseline-src", help="the src folder of code to time beside this one")
    parser.add_argument("--no-bytecode", action="store_true", help="compile in every process")
    parser.add_argument("--json", type=Path, help="also write the medians and goals here")
    args = parser.parse_args(argv)
    runs = 3 if args.smoke else args.runs
    medians = measure(runs, args.baseline_src, bytecode=not args.no_bytecode)
    print(markdown(medians, runs))
    if args.json is not None:
        report = {
            "runs": runs,
            "bytecode": not args.no_bytecode,
            "medians_ms": medians,
            "goals": {code: goals(m) for code, m in medians.items()},
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
