"""The benchmark harness: one command, every table, written to docs/benchmarks.md.

Run by hand from the repository root (the peers need their own virtual environments, which
the harness creates under ``.bench-venvs/`` from ``benchmarks/requirements-*.txt``)::

    python -m benchmarks.harness                 # everything, about 10-20 minutes
    python -m benchmarks.harness --no-peers      # ctxbudget's own tables only
    python -m benchmarks.harness --smoke         # tiny sizes, no peers, no file written

Tables: (1) scale: 8 sections into a 16k cap from 100k / 1M / 10M stored tokens, with peak RSS;
(2) near the limit: cold build time over the time to encode the output once; (3) incremental:
one message appended to a 5,000-message history, warm cache against cold; (4) peers on the same
input, cap and tokenizer in one run; (5) ledgers (once the session budget exists). Times are
medians of repeated runs measured side by side in one run; absolute times drift on shared
machines, ratios much less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tiktoken

from benchmarks import corpus, ledgers, limits, tokenizer_objects
from benchmarks._progress import stages
from benchmarks.limits import verdict
from ctxbudget import (
    ContextBuilder,
    Section,
    __version__,
    build_context,
    get_tokenizer,
    history_items,
    load_preset,
)

REPO = Path(__file__).resolve().parents[1]
BYTES_PER_TOKEN = 4.3  # o200k on this corpus; exact token counts are measured and reported
CAP = 16_000


def median_s(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sections_of(memory: dict[str, str]) -> list[Section]:
    return [Section(name=name, content=text) for name, text in memory.items()]


def cold_build(sections: list[Section], cap: int) -> Any:
    """A build with nothing warm: a new builder and a new count cache."""
    return ContextBuilder(preset="default").build(sections, max_tokens=cap)


def readme_build(memory: dict[str, str], cap: int) -> Any:
    """The README's form: ``build_context`` with one str per section and the default preset."""
    return build_context(memory, max_tokens=cap, preset="default")


@dataclass
class Report:
    """Everything one run measured, rendered to Markdown by :func:`markdown`."""

    smoke: bool
    scale: list[dict[str, float]] = field(default_factory=list)
    near: list[dict[str, float]] = field(default_factory=list)
    incremental: dict[str, float] = field(default_factory=dict)
    batch: list[dict[str, float]] = field(default_factory=list)
    peers: list[dict[str, Any]] = field(default_factory=list)
    ledgers: list[dict[str, Any]] = field(default_factory=list)
    tokenizer_objects: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # benchmarks.limits: sections 7-10
    plot: str | None = None


# -- 1. scale ------------------------------------------------------------------------------


def rss_of_build(size: int, cap: int) -> tuple[float, float]:
    """Peak RSS (MiB) after loading ``size`` tokens of memory, and after building from it.

    Measured in a fresh interpreter, so nothing else in this process inflates the peak.
    """
    code = (
        "import resource, sys; from benchmarks import corpus, harness; "
        f"m = corpus.scale_memory(int({size} * harness.BYTES_PER_TOKEN)); "
        "s = harness.sections_of(m); "
        "a = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        f"harness.cold_build(s, {cap}); "
        "b = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        "print(a / 1024, b / 1024)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded, built = (float(x) for x in out.stdout.split())
    return loaded, built


def bench_scale(sizes: list[int], repeats: int, cap: int, rss: bool) -> list[dict[str, float]]:
    tok = get_tokenizer("o200k_base")
    rows = []
    for size in sizes:
        memory = corpus.scale_memory(int(size * BYTES_PER_TOKEN))
        sections = sections_of(memory)
        stored = sum(len(tok.encode(text)) for text in memory.values())
        result = cold_build(sections, cap)
        assert tok.count(result.text) == result.tokens <= cap
        text = result.text
        row = {
            "stored": stored,
            "tokens": result.tokens,
            "build_s": median_s(lambda s=sections: cold_build(s, cap), repeats),
            "readme_s": median_s(lambda m=memory: readme_build(m, cap), repeats),
            "encode_output_s": median_s(lambda t=text: tok.encode(t), repeats * 3),
            "encode_all_s": median_s(
                lambda m=memory: [tok.encode(t) for t in m.values()], max(1, repeats // 3)
            ),
        }
        if rss:
            row["rss_loaded_mib"], row["rss_built_mib"] = rss_of_build(size, cap)
        rows.append(row)
    return rows


# -- 2. near the limit ---------------------------------------------------------------------


def bench_near(repeats: int, cap: int) -> list[dict[str, float]]:
    """Stored memory just above the cap and at twice it: cold build over one output encode."""
    tok = get_tokenizer("o200k_base")
    rows = []
    for factor in (1.1, 2.0):
        memory = corpus.scale_memory(int(cap * factor * BYTES_PER_TOKEN))
        sections = sections_of(memory)
        stored = sum(len(tok.encode(t)) for t in memory.values())
        result = cold_build(sections, cap)
        assert result.tokens <= cap
        text = result.text
        build = median_s(lambda s=sections: cold_build(s, cap), repeats)
        encode = median_s(lambda t=text: tok.encode(t), repeats * 3)
        rows.append(
            {
                "stored": stored,
                "tokens": result.tokens,
                "build_s": build,
                "encode_output_s": encode,
            }
        )
    return rows


# -- 3. incremental ------------------------------------------------------------------------


def history_messages(count: int) -> list[str]:
    """``count`` real messages as history items, repeating the corpus if it is short."""
    items = [i for conv in corpus.conversations() for i in corpus.message_items(conv)]
    out = []
    while len(out) < count:
        out += items[: count - len(out)]
    return out


def bench_incremental(messages: int, repeats: int, cap: int) -> dict[str, float]:
    """One message appended to a long history: a warm rebuild against a cold build, in two
    layouts: the history as ``"role: content"`` str items, and as the docs show it
    (``history_items(messages)`` of real chat messages)."""
    history = history_messages(messages + repeats + 1)
    chats = [m for conv in corpus.conversations() for m in conv if m["content"].strip()]
    others = corpus.scale_memory(int(100_000 * BYTES_PER_TOKEN))
    others.pop("summaries")

    def items_layout(hist: list[Any]) -> list[Section]:
        return [Section(name="summaries", content=hist), *sections_of(others)]

    def docs_layout(hist: list[Any]) -> list[Section]:
        return [Section(name="summaries", content=history_items(hist)), *sections_of(others)]

    tok = get_tokenizer("o200k_base")
    out: dict[str, float] = {"messages": messages}
    layouts = (("items", history, items_layout), ("docs", chats, docs_layout))
    for name, source, layout in layouts:
        base, extra = source[:messages], source[messages:]
        out[f"{name}_cold_s"] = median_s(lambda b=base, f=layout: cold_build(f(b), cap), repeats)
        builder = ContextBuilder(preset="default")
        grown = list(base)
        builder.build(layout(grown), max_tokens=cap)
        warm_times = []
        for i in range(repeats):
            grown = [*grown, extra[i]]
            start = time.perf_counter()
            result = builder.build(layout(grown), max_tokens=cap)
            warm_times.append(time.perf_counter() - start)
            assert result.tokens <= cap
        out[f"{name}_warm_s"] = statistics.median(warm_times)
        out[f"{name}_encode_output_s"] = median_s(lambda t=result.text: tok.encode(t), repeats)
    out["cold_s"], out["warm_s"] = out["items_cold_s"], out["items_warm_s"]
    out["encode_all_s"] = median_s(
        lambda: [tok.encode(m) for m in history[:messages]], max(1, repeats // 3)
    )
    return out


# -- tokenizer use --------------------------------------------------------------------------


def bench_batch(repeats: int) -> list[dict[str, float]]:
    """A plain loop of encode_ordinary against encode_ordinary_batch(num_threads=2), by size."""
    enc = get_tokenizer("o200k_base").encoding  # type: ignore[attr-defined]
    text = corpus.source_text("conversations")
    rows = []
    for size in (200, 2_000, 20_000):
        items = [text[i * size : (i + 1) * size] for i in range(400_000 // size)]
        loop = median_s(lambda items=items: [enc.encode_ordinary(x) for x in items], repeats)
        batch = median_s(
            lambda items=items: enc.encode_ordinary_batch(items, num_threads=2), repeats
        )
        rows.append({"chars": size, "items": len(items), "loop_s": loop, "batch_s": batch})
    return rows


# -- 4. peers ------------------------------------------------------------------------------

PEERS = {
    # peer name: (venv name, requirements file, workload)
    "langchain-trim": ("peers", "requirements-peers.txt", "history"),
    "priompt": ("peers", "requirements-peers.txt", "sections"),
    "llamaindex-memory": ("peers", "requirements-peers.txt", "sections"),
    "prompt-poet": ("poet", "requirements-poet.txt", "sections"),
    "naive": ("peers", "requirements-peers.txt", "sections"),
}
#: The default preset's weights, which ctxbudget uses for the same sections.
WEIGHTS = load_preset("default").weights()


def venv_python(name: str, requirements: str) -> Path:
    """The interpreter of ``.bench-venvs/<name>``, created from a requirements file if missing."""
    root = REPO / ".bench-venvs" / name
    python = root / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "-r",
                str(REPO / "benchmarks" / requirements),
            ],
            check=True,
        )
    return python


def peer_input(stored_tokens: int, cap: int, repeats: int) -> dict[str, Any]:
    """The same input for every peer: 8 sections of line items, and a chat history."""
    memory = corpus.scale_memory(int(stored_tokens * BYTES_PER_TOKEN))
    sections = [
        {"name": name, "weight": WEIGHTS[name], "items": [x for x in text.split("\n") if x.strip()]}
        for name, text in memory.items()
    ]
    history_items = []
    total = 0
    for conv in corpus.conversations():
        for m in conv:
            if m["content"].strip():
                history_items.append({"role": m["role"], "content": m["content"]})
                total += len(m["content"])
        if total >= stored_tokens * BYTES_PER_TOKEN:
            break
    return {
        "cap": cap,
        "repeats": repeats,
        "timeout_s": 300,
        "sections": sections,
        "history": history_items,
    }


def ctxbudget_on(data: dict[str, Any], workload: str, repeats: int) -> dict[str, Any]:
    """ctxbudget on a peer input, cold (new builder) every repeat."""
    cap = data["cap"]
    if workload == "history":
        items = [f"{m['role']}: {m['content']}" for m in data["history"]]

        def run() -> Any:
            return ContextBuilder(template="{% for s in sections %}{{ s.body }}{% endfor %}").build(
                [Section(name="history", content=items)], max_tokens=cap
            )
    else:
        sections = [Section(name=s["name"], content=s["items"]) for s in data["sections"]]

        def run() -> Any:
            return ContextBuilder(preset="default").build(sections, max_tokens=cap)

    result = run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {"times_s": times, "text": result.text}


def bench_peers(stored: int, cap: int, repeats: int) -> list[dict[str, Any]]:
    tok = get_tokenizer("o200k_base")  # seeds tiktoken's cache for the peers' own tiktoken
    env = dict(os.environ)
    env.setdefault("TIKTOKEN_CACHE_DIR", str(Path(tempfile.gettempdir()) / "data-gym-cache"))
    data = peer_input(stored, cap, repeats)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ours: dict[str, dict[str, Any]] = {}
        for workload in ("sections", "history"):
            payload = {**data, "workload": workload}
            path = Path(tmp) / f"{workload}.json"
            path.write_text(json.dumps(payload))
            ours[workload] = ctxbudget_on(payload, workload, repeats)
        for peer, (venv, requirements, workload) in PEERS.items():
            python = venv_python(venv, requirements)
            start = time.perf_counter()
            out = subprocess.run(
                [
                    str(python),
                    str(REPO / "benchmarks" / "peers" / "run_peer.py"),
                    peer,
                    str(Path(tmp) / f"{workload}.json"),
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=3600,
                check=False,
            )
            if out.returncode != 0:
                rows.append({"peer": peer, "workload": workload, "error": out.stderr[-500:]})
                continue
            result = json.loads(out.stdout)
            mine = ours[workload]
            rows.append(
                {
                    "peer": peer,
                    "version": result.get("version", "?"),
                    "workload": workload,
                    "peer_s": statistics.median(result["times_s"]),
                    "runs": len(result["times_s"]),
                    "peer_tokens": tok.count(result["text"]),
                    "ours_s": statistics.median(mine["times_s"]),
                    "ours_tokens": tok.count(mine["text"]),
                    "notes": result.get("notes", ""),
                    "wall_s": time.perf_counter() - start,
                }
            )
    return rows


# -- 5. ledgers ------------------------------------------------------------------------------


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    """A throwaway redis-server on a free loopback port (no persistence)."""
    import shutil
    import socket

    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("the ledger benchmark needs redis-server: apt-get install redis-server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


# -- plot and report -----------------------------------------------------------------------


def plot(scale: list[dict[str, float]], path: Path) -> str:
    """A PNG of build time and encode-everything time against stored memory, log-log.

    Raises:
        SystemExit: matplotlib is missing (``pip install -r benchmarks/requirements.txt``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit(
            "the harness plots with matplotlib: pip install -r benchmarks/requirements.txt"
        ) from None
    stored = [r["stored"] for r in scale]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(stored, [r["build_s"] * 1e3 for r in scale], "o-", label="ctxbudget cold build")
    ax.plot(
        stored,
        [r["encode_all_s"] * 1e3 for r in scale],
        "s--",
        label="tiktoken: encode all stored memory once",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("stored memory (o200k tokens)")
    ax.set_ylabel("time (ms, median)")
    ax.set_title(f"8 sections into a {CAP:,}-token cap")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path.name


def ledger_goals(rows: list[dict[str, Any]]) -> list[str]:
    """The ledger goals: memory >= 100k pairs/s and flat, SQLite >= 5k pairs/s with 8 threads
    (default durability), a Redis step <= 1.2x a bare PING."""

    by = {r["row"].split(" (")[0]: r for r in rows}
    out = []
    level = by.get("memory: Ledger.reserve + commit")
    budget = by.get("memory: SessionBudget")
    if level and budget:
        out.append(
            f"- Memory ledger >= 100k pairs/s: {level['one']:,.0f} at the ledger, "
            f"{budget['one']:,.0f} through SessionBudget, {verdict(budget['one'] >= 100_000)}."
        )
    flat = next((r for r in rows if r["row"].startswith("memory: flat?")), None)
    if flat:
        ratio = flat["eight"] / flat["one"]
        out.append(f"- Memory ledger flat after 1M pairs: x{ratio:.2f}, {verdict(ratio >= 0.8)}.")
    sqlite = by.get("sqlite synchronous=FULL: SessionBudget")
    bare = by.get("sqlite synchronous=FULL: bare durable transaction")
    if sqlite and bare:
        out.append(
            f"- SQLite (default durability) >= 5k pairs/s with 8 threads: {sqlite['eight']:,.0f} "
            f"(a bare durable transaction: {bare['eight']:,.0f}/s with 8 threads), "
            f"{verdict(sqlite['eight'] >= 5_000)}."
        )
    redis = by.get("redis over loopback: SessionBudget")
    ping = by.get("redis over loopback: bare PING")
    if redis and ping:
        step = ping["one"] / (2 * redis["one"])  # a pair is two steps, each one round trip
        out.append(f"- Redis step <= 1.2x a bare PING: {step:.2f}x, {verdict(step <= 1.2)}.")
    return out


def goals(report: Report) -> list[str]:
    """One line per goal of the performance issue: met or not, with the measured number."""

    out = []
    if report.scale:
        ratio = report.scale[-1]["build_s"] / report.scale[0]["build_s"]
        out.append(f"- Scale, 10M vs 100k <= 1.5x: {ratio:.2f}x, {verdict(ratio <= 1.5)}.")
    near = report.near + report.scale
    if near:
        worst = max(r["build_s"] / r["encode_output_s"] for r in near)
        out.append(
            f"- Sectioned cold build <= 1.5x one encode of the output: at most {worst:.2f}x, "
            f"{verdict(worst <= 1.5)} (see section 2)."
        )
    if report.scale:
        worst = max(r["readme_s"] / r["encode_output_s"] for r in report.scale)
        out.append(
            f"- README form <= 3x one encode of the output at 100k, 1M and 10M: at most "
            f"{worst:.2f}x, {verdict(worst <= 3)}."
        )
    if report.incremental:
        inc = report.incremental
        for name in ("items", "docs"):
            ratio = inc[f"{name}_cold_s"] / inc[f"{name}_warm_s"]
            share = inc[f"{name}_warm_s"] / inc[f"{name}_encode_output_s"]
            out.append(
                f"- Warm rebuild ({name} layout) >= 20x faster than cold: {ratio:.1f}x, "
                f"{verdict(ratio >= 20)}; <= 0.3x one encode of the output: {share:.2f}x, "
                f"{verdict(share <= 0.3)} (see section 3)."
            )
    out += ledger_goals(report.ledgers)
    out += limits.goals(report.extra)
    measured = [r for r in report.peers if "error" not in r]
    if measured:
        slowest = min(r["peer_s"] / r["ours_s"] for r in measured)
        within = all(r["ours_tokens"] <= CAP for r in measured)
        out.append(
            f"- >= 10x faster than each peer at 1M tokens: at least {slowest:,.0f}x, "
            f"{verdict(slowest >= 10 and within)}."
        )
    if report.tokenizer_objects:
        t = report.tokenizer_objects
        ratio = t["object_s"] / t["path_s"]
        out.append(
            f"- fit_messages with a raw tokenizers.Tokenizer <= 1.5x the same by path: "
            f"{ratio:.2f}x, {verdict(ratio <= 1.5)} (see section 6)."
        )
    return out


def markdown(report: Report, repeats: int) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `python -m benchmarks.harness` on {time.strftime('%Y-%m-%d')}. Machine: "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"ctxbudget {__version__}, tiktoken {tiktoken.__version__}. Tokenizer o200k_base, cap "
        f"{CAP:,} tokens, default preset. Times are medians of {repeats} runs measured side "
        "by side in this one run; absolute times drift on shared machines, ratios much less. "
        "Stored memory is cut from the shared corpus (ShareGPT conversations, Python docs, "
        "the Jargon File), repeated past its 4.7M tokens for the 10M case.",
        "",
        "## Goals",
        "",
        *goals(report),
        "",
        "## 1. Scale: cost grows with the cap, not with stored memory",
        "",
        "A cold build (new builder, new count cache) of 8 sections. Goal: time at 10M <= 1.5x "
        "time at 100k.",
        "",
        "| stored memory (tokens) | assembled | cold build (ms) | vs 100k "
        "| encode all stored memory once (ms) | peak RSS loaded / after build (MiB) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    first = report.scale[0]["build_s"] if report.scale else 1.0
    for r in report.scale:
        rss = (
            f"{r['rss_loaded_mib']:.0f} / {r['rss_built_mib']:.0f}" if "rss_built_mib" in r else "-"
        )
        lines.append(
            f"| {r['stored']:,.0f} | {r['tokens']:,.0f} | {r['build_s'] * 1e3:.1f} "
            f"| {r['build_s'] / first:.2f}x | {r['encode_all_s'] * 1e3:,.0f} | {rss} |"
        )
    if report.plot:
        lines += ["", f"![build time against stored memory]({report.plot})"]
    lines += [
        "",
        "## 2. Near the limit: a cold build against encoding its output once",
        "",
        "Goals: the sectioned build (a builder given `Section` objects) <= 1.5x the time "
        "tiktoken takes to encode the assembled output once; the README form (`build_context` "
        'with one str per section and `preset="default"`, a new builder per call) <= 3x.',
        "",
        "| stored memory (tokens) | assembled | sectioned cold build (ms) "
        "| README form (ms) | encode output once (ms) | sectioned / encode | README / encode |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report.near + report.scale:
        readme = r.get("readme_s")
        lines.append(
            f"| {r['stored']:,.0f} | {r['tokens']:,.0f} | {r['build_s'] * 1e3:.1f} "
            f"| {'-' if readme is None else format(readme * 1e3, '.1f')} "
            f"| {r['encode_output_s'] * 1e3:.2f} | {r['build_s'] / r['encode_output_s']:.2f}x "
            f"| {'-' if readme is None else format(readme / r['encode_output_s'], '.2f') + 'x'} |"
        )
    inc = report.incremental
    if inc:
        lines += [
            "",
            "## 3. Incremental: one message appended to a long history",
            "",
            f"A {inc['messages']:,.0f}-message history (real messages) as the `summaries` "
            "section beside the 7 other sections; the builder that built the history rebuilds "
            "with one more message (warm caches) against a cold build (a new builder). Layout "
            '`items`: the history as `"role: content"` str items; layout `docs`: '
            "`history_items(messages)` of the real chat messages, as docs/agent-loops.md shows "
            "it. Goals: warm >= 20x faster than cold, and <= 0.3x one encode of the output.",
            "",
            "| layout | cold build (ms) | warm rebuild (ms) | cold / warm "
            "| encode output once (ms) | warm / encode |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name in ("items", "docs"):
            cold, warm = inc[f"{name}_cold_s"], inc[f"{name}_warm_s"]
            enc = inc[f"{name}_encode_output_s"]
            lines.append(
                f"| {name} | {cold * 1e3:.2f} | {warm * 1e3:.2f} | {cold / warm:.1f}x "
                f"| {enc * 1e3:.2f} | {warm / enc:.2f}x |"
            )
        lines += [
            "",
            "Encoding the whole history once (what a builder that counts everything must do "
            f"at least) takes {inc['encode_all_s'] * 1e3:,.0f} ms, "
            f"{inc['encode_all_s'] / inc['warm_s']:,.0f}x a warm rebuild.",
        ]
    if report.batch:
        lines += [
            "",
            "### Tokenizer use: a loop of `encode_ordinary` against `encode_ordinary_batch`",
            "",
            "400k characters of conversation text cut into items of one size; 2 threads.",
            "",
            "| item size (chars) | items | loop (ms) | batch (ms) | loop / batch |",
            "|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r['chars']:,.0f} | {r['items']:,.0f} | {r['loop_s'] * 1e3:.1f} "
            f"| {r['batch_s'] * 1e3:.1f} | {r['loop_s'] / r['batch_s']:.2f} |"
            for r in report.batch
        ]
    if report.peers:
        lines += [
            "",
            "## 4. Peers: same input, same cap, same tokenizer, one run",
            "",
            "About 1M tokens of stored memory. `sections`: the 8 sections as line items; "
            "`history`: real chat messages. ctxbudget runs cold on the same input in the same "
            "run (for `history`, one section with a bare template). `tokens` is the o200k count "
            "of each output, checked against the cap. Goal: ctxbudget >= 10x faster than each.",
            "",
            "| peer | workload | peer median (s) | runs | peer tokens | ctxbudget (ms) "
            "| ctxbudget tokens | ctxbudget faster by |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in report.peers:
            if "error" in r:
                lines.append(f"| {r['peer']} | {r['workload']} | failed: see notes | | | | | |")
                continue
            within = "" if r["peer_tokens"] <= CAP else " (over the cap)"
            lines.append(
                f"| {r['peer']} {r['version']} | {r['workload']} | {r['peer_s']:.3f} "
                f"| {r['runs']} | {r['peer_tokens']:,}{within} | {r['ours_s'] * 1e3:.1f} "
                f"| {r['ours_tokens']:,} | {r['peer_s'] / r['ours_s']:,.0f}x |"
            )
        lines += ["", "Notes from each peer adapter (`benchmarks/peers/`):", ""]
        lines += [
            f"- **{r['peer']}**: {r.get('notes') or r.get('error', '')}" for r in report.peers
        ]
    if report.ledgers:
        lines += [
            "",
            "## 5. Ledgers: reserve + commit pairs per second",
            "",
            "`python -m benchmarks.ledgers`: each pair is one atomic reserve (the session, "
            "user and global scopes) and one atomic commit through `SessionBudget`; 8 threads "
            "share one budget (one SQLite connection per thread, one Redis connection pool); 4 "
            "processes each have their own budget on the same store. Bare rows are the store's "
            "own round trip: one durable SQLite transaction (`BEGIN IMMEDIATE`, one `UPDATE`, "
            "`COMMIT`) and Redis `PING` (a reserve and a commit are two round trips).",
            "",
            ledgers.markdown(report.ledgers, 3),
        ]
    if report.tokenizer_objects:
        t = report.tokenizer_objects
        lines += [
            "",
            "## 6. Tokenizer objects: resolved once",
            "",
            f"`fit_messages` over {t['messages']:,} real messages, budget {t['budget']:,}, "
            f'tokenizer {t["tokenizer"]}, given as `"hf:<path>"` and as the raw '
            "`tokenizers.Tokenizer` object (`benchmarks/tokenizer_objects.py`; pass a "
            "tokenizer.json to it to measure a real one).",
            "",
            "| form | median (ms) |",
            "|---|---:|",
            f'| `tokenizer="hf:<path>"` | {t["path_s"] * 1e3:.1f} |',
            f"| `tokenizer=<tokenizers.Tokenizer>` | {t['object_s'] * 1e3:.1f} |",
        ]
    lines += limits.markdown(report.extra)
    lines.append("")
    return "\n".join(lines)


def run(*, smoke: bool, peers: bool, repeats: int) -> Report:
    report = Report(smoke=smoke)
    if smoke:
        report.scale = bench_scale([2_000, 20_000], repeats=1, cap=1_000, rss=False)
        report.near = bench_near(repeats=1, cap=1_000)
        report.incremental = bench_incremental(200, repeats=1, cap=1_000)
        report.ledgers = ledgers.run(smoke=True, repeats=1)
        report.tokenizer_objects = tokenizer_objects.measure(repeats=1, conversations=5)
        return report
    with stages(8 if peers else 7) as step:
        report.scale = step(
            "scale", lambda: bench_scale([100_000, 1_000_000, 10_000_000], repeats, CAP, rss=True)
        )
        report.near = step("near the limit", lambda: bench_near(repeats, CAP))
        report.incremental = step("incremental", lambda: bench_incremental(5_000, repeats, CAP))
        report.batch = step("batch", lambda: bench_batch(repeats))
        report.ledgers = step("ledgers", lambda: ledgers.run(smoke=False, repeats=3))
        report.extra = step("limits", lambda: limits.run(smoke=False, repeats=repeats))
        report.tokenizer_objects = step(
            "tokenizer objects", lambda: tokenizer_objects.measure(repeats=repeats)
        )
        if peers:
            report.peers = step("peers", lambda: bench_peers(1_000_000, CAP, repeats=3))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the ctxbudget benchmarks.")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no peers, no file")
    parser.add_argument("--no-peers", action="store_true", help="skip the peer comparison")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    report = run(smoke=args.smoke, peers=not args.no_peers, repeats=args.repeats)
    if not args.smoke:
        report.plot = plot(report.scale, args.output.with_name("benchmarks-scale.png"))
    text = markdown(report, 1 if args.smoke else args.repeats)
    if args.smoke:
        print(text)
    else:
        args.output.write_text(text + _kept_tail(args.output), encoding="utf-8")
        print(f"wrote {args.output}")


#: Everything after this line of docs/benchmarks.md is written by the other, hand-run
#: benchmark scripts (``benchmarks/huge_line.py``, ``benchmarks/lease_race.py``...) and kept
#: when the harness rewrites the file.
HAND_RUN_MARKER = "<!-- hand-run benchmarks below; kept when the harness rewrites this file -->"


def _kept_tail(path: Path) -> str:
    if not path.exists():
        return ""
    old = path.read_text(encoding="utf-8")
    at = old.find(HAND_RUN_MARKER)
    return "\n" + old[at:] if at >= 0 else ""


if __name__ == "__main__":
    main()
