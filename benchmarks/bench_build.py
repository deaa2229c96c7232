"""Scale benchmark: 8 sections (default preset) into a 16k cap from 100k, 1M and 10M tokens.

Run by hand from the repository root::

    python -m benchmarks.bench_build            # prints a Markdown table
    python -m benchmarks.bench_build --sizes 100000 1000000 --repeats 5

For each size it reports the median cold build time (a fresh count cache every run), the
median time tiktoken takes to encode the assembled output once, and their ratio. Times are
medians of repeated runs measured side by side in one process; absolute numbers drift on a
shared machine, ratios much less.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import tiktoken

from benchmarks import corpus
from ctxbudget import ContextBuilder, Section, get_tokenizer

BYTES_PER_TOKEN = 4.3  # o200k on this corpus; the exact token count is measured and reported


def median_seconds(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(sizes: list[int], repeats: int, cap: int) -> list[dict[str, float]]:
    tok = get_tokenizer("o200k_base")
    rows = []
    for size in sizes:
        memory = corpus.scale_memory(int(size * BYTES_PER_TOKEN))
        stored = sum(len(tok.encode(text)) for text in memory.values())
        sections = [Section(name=name, content=text) for name, text in memory.items()]

        def build(sections: list[Section] = sections) -> object:
            return ContextBuilder(preset="default").build(sections, max_tokens=cap)

        result = build()
        assert result.tokens <= cap  # type: ignore[attr-defined]
        text = result.text  # type: ignore[attr-defined]
        build_s = median_seconds(build, repeats)
        encode_s = median_seconds(lambda text=text: tok.encode(text), repeats * 3)
        rows.append(
            {
                "stored": stored,
                "tokens": result.tokens,  # type: ignore[attr-defined]
                "build_ms": build_s * 1e3,
                "encode_ms": encode_s * 1e3,
                "ratio": build_s / encode_s,
            }
        )
    return rows


def table(rows: list[dict[str, float]], cap: int, repeats: int) -> str:
    lines = [
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"tiktoken {tiktoken.__version__}; cap {cap:,} tokens; median of {repeats} runs.",
        "",
        "| stored memory (o200k tokens) | assembled tokens | cold build (ms) "
        "| encode output once (ms) | build / encode |",
        "|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['stored']:,.0f} | {r['tokens']:,.0f} | {r['build_ms']:.1f} "
        f"| {r['encode_ms']:.2f} | {r['ratio']:.1f}x |"
        for r in rows
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cap", type=int, default=16_000)
    args = parser.parse_args()
    print(table(run(args.sizes, args.repeats, args.cap), args.cap, args.repeats))


if __name__ == "__main__":
    main()
