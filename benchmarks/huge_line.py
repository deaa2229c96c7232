"""One huge line without spaces: build time against the cap, not against the item's size.

BPE's worst case is a long piece with no pre-tokenizer split (no spaces): tiktoken encodes
it in time that grows faster than its length. A build must not pay for the whole item when
only ``max_tokens`` of it can be kept. Run by hand from the repository root::

    python -m benchmarks.huge_line                    # 1 MB and 10 MB, caps 4000 and 8000
    python -m benchmarks.huge_line --sizes 1 --repeats 1

Each cell is the median wall time of ``--repeats`` cold builds (a new builder, so nothing is
cached between them) of ``{"notes": <item>, "facts": "sky is blue"}``; the tokenizer is
loaded before timing, with its table of long tokens (timed apart: a one-time cost on the first
huge item otherwise). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import string
import time
from collections.abc import Callable

from ctxbudget import build_context, get_tokenizer

MB = 1_000_000


def _base64(size: int, rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(size * 3 // 4 + 3)).decode()[:size]


def _alnum(size: int, rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=size))


def _same_letter(size: int, rng: random.Random) -> str:
    return "a" * size


def _minified_json(size: int, rng: random.Random) -> str:
    records = []
    length = 2
    while length < size:
        record = {
            "id": rng.randrange(10**9),
            "name": _alnum(rng.randrange(4, 16), rng),
            "tags": [_alnum(5, rng) for _ in range(rng.randrange(1, 4))],
            "score": round(rng.random(), 4),
        }
        text = json.dumps(record, separators=(",", ":"))
        records.append(text)
        length += len(text) + 1
    return ("[" + ",".join(records) + "]")[:size]


KINDS: dict[str, Callable[[int, random.Random], str]] = {
    "base64": _base64,
    "random alnum": _alnum,
    "'a' * N": _same_letter,
    "minified JSON": _minified_json,
}


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(sizes_mb: list[float], caps: list[int], repeats: int, tokenizer: str) -> str:
    """Time every kind, size and cap; return the Markdown table."""
    tok = get_tokenizer(tokenizer)
    tok.count("warm up")
    start = time.perf_counter()
    bounded = getattr(tok, "max_token_bytes", None) is not None  # builds its table of long tokens
    table_ms = (time.perf_counter() - start) * 1000
    rng = random.Random(0)
    header = "| item | size | " + " | ".join(f"cap {cap:,}" for cap in caps) + " |"
    lines = [header, "|" + "---|" * (2 + len(caps))]
    for kind, make in KINDS.items():
        for size_mb in sizes_mb:
            item = make(int(size_mb * MB), rng)
            cells = []
            for cap in caps:

                def build(item: str = item, cap: int = cap) -> None:
                    result = build_context(
                        {"notes": item, "facts": "sky is blue"}, max_tokens=cap, tokenizer=tok
                    )
                    assert result.tokens <= cap

                cells.append(f"{median_ms(build, repeats):,.1f} ms")
            lines.append(f"| {kind} | {size_mb:g} MB | " + " | ".join(cells) + " |")
    if bounded:
        lines.append(f"\nThe tokenizer's table of long tokens, built once: {table_ms:,.0f} ms.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 10], help="sizes in MB")
    parser.add_argument("--caps", type=int, nargs="+", default=[4000, 8000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokenizer", default="o200k_base")
    args = parser.parse_args()
    print(f"build_context, {args.tokenizer}, median of {args.repeats} cold builds\n")
    print(run(args.sizes, args.caps, args.repeats, args.tokenizer))


if __name__ == "__main__":
    main()
