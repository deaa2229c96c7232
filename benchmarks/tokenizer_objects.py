"""fit_messages with a raw ``tokenizers.Tokenizer`` object against the same tokenizer by path.

Goal (architecture issue): the object form costs at most 1.5x the ``"hf:<path>"`` form. Before
the tokenizer registry cached object wrappers, each message re-serialized and re-hashed the
object. Run by hand: ``python -m benchmarks.tokenizer_objects [TOKENIZER_JSON]``; without an
argument it trains a small byte-level BPE on the shared corpus. Prints medians of 7 runs of the
two forms side by side, and their ratio.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import corpus
from ctxbudget import fit_messages


def _median(run: Callable[[], object], repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _trained(messages: list[dict[str, str]]) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=8000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator([m["content"] for m in messages], trainer)
    path = Path(tempfile.mkdtemp()) / "tokenizer.json"
    tok.save(str(path))
    return path


def measure(
    tokenizer_json: Path | None = None, repeats: int = 7, conversations: int = 60
) -> dict[str, Any]:
    """Median seconds of ``fit_messages`` by path and by raw object, same messages and budget.

    Returns:
        ``{"messages", "budget", "tokenizer", "path_s", "object_s"}``.
    """
    from tokenizers import Tokenizer

    convs = corpus.conversations()[:conversations]
    messages = [m for c in convs for m in c if m["content"].strip()]
    path = tokenizer_json if tokenizer_json is not None else _trained(messages)
    raw = Tokenizer.from_file(str(path))
    budget = 8000

    def by_path() -> object:
        return fit_messages(messages, budget, tokenizer=f"hf:{path}")

    def by_object() -> object:
        return fit_messages(messages, budget, tokenizer=raw)

    by_path(), by_object()
    return {
        "messages": len(messages),
        "budget": budget,
        "tokenizer": str(path) if tokenizer_json is not None else "trained 8k BPE",
        "path_s": _median(by_path, repeats),
        "object_s": _median(by_object, repeats),
    }


def main() -> None:
    """Print the table for the tokenizer.json given, or a trained one."""
    r = measure(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    print(f"{r['messages']} real messages, budget {r['budget']}, tokenizer {r['tokenizer']}")
    print("| form | median |\n|---|---:|")
    print(f"| tokenizer='hf:<path>' | {r['path_s'] * 1e3:.1f} ms |")
    print(f"| tokenizer=<tokenizers.Tokenizer> | {r['object_s'] * 1e3:.1f} ms |")
    print(f"ratio object / path: {r['object_s'] / r['path_s']:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
