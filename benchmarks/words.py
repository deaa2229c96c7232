"""The word readers of ``dedupe`` and the summarizer: the byte table against the pattern alone.

Run by hand from the repository root::

    python -m benchmarks.words
    python -m benchmarks.words --words 500 --repeats 1   # a smoke run

Texts of 20,000 words, a share of them Cyrillic (0 to 100 %), the rest ASCII; for each, the
median time of ``memory._words.runs`` (``dedupe``'s ``\\w+`` table) against
``re.findall(r"\\w+", text.lower())``, and the text's UTF-8 bytes per character, which
``runs`` compares with :data:`~ctxbudget.memory._words.MOSTLY_ASCII` to send a text to the
pattern whole. Prints a Markdown table; every row also checks that both give the same words.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from collections.abc import Callable

from ctxbudget.memory._reducers import _WORD_TABLE
from ctxbudget.memory._words import MOSTLY_ASCII, runs

WORD = re.compile(r"\w+")
ASCII_WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "while",
    "coding",
    "python",
]
CYRILLIC_WORDS = ["быстрая", "коричневая", "лиса", "прыгает", "через", "ленивую", "собаку"]
SHARES = (0.0, 0.02, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0)


def median_ms(fn: Callable[[], object], repeats: int = 15) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def text_with(share: float, rng: random.Random, words: int = 20_000) -> str:
    return " ".join(
        rng.choice(CYRILLIC_WORDS) if rng.random() < share else rng.choice(ASCII_WORDS)
        for _ in range(words)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.words", description=__doc__)
    parser.add_argument("--words", type=int, default=20_000, help="words a text")
    parser.add_argument("--repeats", type=int, default=15, help="runs per cell (median)")
    args = parser.parse_args(argv)
    rng = random.Random(1)
    print(f"Texts above {MOSTLY_ASCII} bytes a character go to the pattern whole.\n")
    print("| Cyrillic words | bytes per character | runs (ms) | pattern (ms) | runs / pattern |")
    print("|---:|---:|---:|---:|---:|")
    for share in SHARES:
        text = text_with(share, rng, args.words)
        assert runs(text, _WORD_TABLE, WORD) == WORD.findall(text.lower())
        per_char = len(text.encode()) / len(text)
        ours = median_ms(lambda t=text: runs(t, _WORD_TABLE, WORD), args.repeats)
        plain = median_ms(lambda t=text: WORD.findall(t.lower()), args.repeats)
        print(f"| {share:.0%} | {per_char:.2f} | {ours:.2f} | {plain:.2f} | {ours / plain:.2f} |")


if __name__ == "__main__":
    main()
