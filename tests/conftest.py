"""Shared fixtures: tokenizers (offline), the example memory, and the shared real-text corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def data_dir() -> Path:
    """The shared corpus: ``$CTXBUDGET_DATA``, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get("CTXBUDGET_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-text corpus; fails under CI when missing, skips elsewhere."""
    path = data_dir()
    if not (path / "sharegpt" / "conversations.jsonl").is_file():
        message = (
            f"the shared corpus is not at {path}: set CTXBUDGET_DATA to the folder holding "
            f"sharegpt/, pydocs/ and jargon.txt"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def hf_tokenizer_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Hugging Face tokenizer.json: a small byte-level BPE trained in-process, offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.rglob("*.md"))]
    tok.train_from_iterator(corpus, trainer=trainer)
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    tok.save(str(path))
    return path


@pytest.fixture(scope="session")
def example_memory() -> dict[str, str]:
    """The bundled example agent memory, section name -> text."""
    return {
        p.stem: p.read_text(encoding="utf-8") for p in sorted((EXAMPLES / "memory").glob("*.md"))
    }
