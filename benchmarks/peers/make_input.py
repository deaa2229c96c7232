"""Make a peer-benchmark INPUT_JSON from the shared corpus (standard library + tiktoken).

For trying the peer workers by hand; the main benchmark may build its inputs its own way.

    python benchmarks/peers/make_input.py OUT.json --tokens 1000000 --cap 16000 --repeats 3

"sections": 8 sections of one-line items (Jargon File entries folded onto one line, ShareGPT
messages as ``role: content`` with newlines folded to spaces), alternating sources, weights
8..1, each about ``tokens / 8`` o200k tokens. "history": ShareGPT conversations in file order,
one system message first, about ``tokens`` tokens. Both are written to the same file, so one
file serves every peer. The corpus folder is ``$CTXBUDGET_DATA``, else ``../shared/data``
beside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    return Path(os.environ.get("CTXBUDGET_DATA", REPO.parent / "shared" / "data"))


def conversations() -> list[list[dict[str, str]]]:
    path = data_dir() / "sharegpt" / "conversations.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["messages"] for line in fh if line.strip()]


def jargon_lines() -> list[str]:
    text = (data_dir() / "jargon.txt").read_text(encoding="utf-8")
    starts = [m.start() for m in re.finditer(r"(?m)^   :[^:\n]+:", text)]
    return [
        " ".join(text[b:e].split()).lstrip(":")
        for b, e in zip(starts, [*starts[1:], len(text)], strict=True)
    ]


def message_lines() -> list[str]:
    return [
        f"{m['role']}: {' '.join(m['content'].split())}"
        for conv in conversations()
        for m in conv
        if m["content"].strip()
    ]


def take(pool: list[str], start: int, tokens: int, count: object) -> list[str]:
    """Consecutive lines from ``pool`` (wrapping around) until about ``tokens`` tokens."""
    out: list[str] = []
    total = 0
    i = start
    while total < tokens:
        line = pool[i % len(pool)]
        total += count(line) + 1  # type: ignore[operator]
        out.append(line)
        i += 1
    return out


def make(tokens: int, cap: int, repeats: int) -> dict[str, object]:
    import tiktoken

    enc = tiktoken.get_encoding("o200k_base")

    def count(s: str) -> int:
        return len(enc.encode_ordinary(s))

    pools = {"jargon": jargon_lines(), "conversations": message_lines()}
    per_section = tokens // 8
    sections = []
    for k in range(8):
        kind = "jargon" if k % 2 == 0 else "conversations"
        pool = pools[kind]
        start = (k * 7919) % len(pool)
        sections.append(
            {
                "name": f"{kind}{k}",
                "weight": float(8 - k),
                "items": take(pool, start, per_section, count),
            }
        )

    history = [{"role": "system", "content": "You are a helpful assistant. Answer concisely."}]
    total = count(history[0]["content"])
    convs = conversations()
    i = 0
    while total < tokens:
        for m in convs[i % len(convs)]:
            if m["content"].strip() and m["role"] in ("user", "assistant"):
                history.append({"role": m["role"], "content": m["content"]})
                total += count(m["content"]) + 4
        i += 1
    return {
        "cap": cap,
        "repeats": repeats,
        "workload": "sections",
        "sections": sections,
        "history": history,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--tokens", type=int, default=20000, help="about this many o200k tokens")
    ap.add_argument("--cap", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--timeout-s", type=float, default=None)
    args = ap.parse_args()
    data = make(args.tokens, args.cap, args.repeats)
    if args.timeout_s:
        data["timeout_s"] = args.timeout_s
    Path(args.out).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
