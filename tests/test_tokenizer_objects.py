"""Tokenizer objects from elsewhere: tiktoken ``Encoding`` objects, ``transformers`` tokenizers
(the real package, and anything shaped like one), each wrapped once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import tokenizers

import ctxbudget
from ctxbudget import TiktokenTokenizer, build_context, get_tokenizer
from ctxbudget.tokenizers import TransformersTokenizer

TEXTS = [
    "",
    "Hello, world!",
    "The user prefers concise answers.\n\n- likes Python\n- dislikes YAML tabs\n",
    "Zoë's café serves crème brûlée; 東京で会いましょう 👋🌍",
    "before <|endoftext|> after",
]

# -- tiktoken.Encoding ------------------------------------------------------------------------


def test_the_registered_encoding_object_is_the_same_tokenizer_as_its_name() -> None:
    """get_tokenizer(tiktoken.get_encoding('o200k_base')) is get_tokenizer('o200k_base')
    (before, an Encoding was refused: it has no count())."""
    named = get_tokenizer("o200k_base")
    assert isinstance(named, TiktokenTokenizer)
    assert get_tokenizer(named.encoding) is named


def test_an_equal_encoding_built_apart_is_that_encoding() -> None:
    """An Encoding built from o200k_base's own parameters (not the registered object) counts
    as o200k_base, and shares its name, so counts cached under either are right for both."""
    ours = get_tokenizer("o200k_base")
    assert isinstance(ours, TiktokenTokenizer)
    enc = ours.encoding
    twin = tiktoken.Encoding(
        name="o200k_base",
        pat_str=enc._pat_str,
        mergeable_ranks=enc._mergeable_ranks,
        special_tokens=enc._special_tokens,
    )
    assert get_tokenizer(twin) is ours


def _tiny_encoding(name: str) -> tiktoken.Encoding:
    """A real tiktoken encoding with a byte vocabulary and three merges."""
    ranks = {bytes([b]): b for b in range(256)}
    for i, merged in enumerate([b"he", b"ll", b"hell"]):
        ranks[merged] = 256 + i
    return tiktoken.Encoding(
        name=name, pat_str=r"\S+|\s+", mergeable_ranks=ranks, special_tokens={"<|end|>": 300}
    )


def test_a_custom_encoding_counts_with_its_own_vocabulary() -> None:
    """A user's Encoding is wrapped under its name and counts as encode_ordinary does; its
    counts are never assumed to add up across lines."""
    enc = _tiny_encoding("tiny")
    tok = get_tokenizer(enc)
    assert isinstance(tok, TiktokenTokenizer)
    assert tok.name == "tiny"
    assert tok.newline_additive is False
    for text in [*TEXTS, "hello hell <|end|>"]:
        assert tok.count(text) == len(enc.encode_ordinary(text))
        assert tok.decode(tok.encode(text)) == text
    assert get_tokenizer(enc) is tok


def test_a_custom_encoding_that_borrows_a_bundled_name_is_named_apart() -> None:
    """An Encoding called 'o200k_base' with another vocabulary never shares o200k_base's name
    (nor its cached counts), and counts with its own vocabulary."""
    impostor = _tiny_encoding("o200k_base")
    tok = get_tokenizer(impostor)
    assert tok is not get_tokenizer("o200k_base")
    assert tok.name != "o200k_base"
    assert tok.name.startswith("o200k_base#")
    assert tok.count("hello world") == len(impostor.encode_ordinary("hello world"))


def test_name_renames_a_wrapped_encoding() -> None:
    """name= gives the wrapper of an Encoding another name."""
    tok = get_tokenizer(get_tokenizer("cl100k_base").encoding, name="my-cl100k")  # type: ignore[attr-defined]
    assert tok.name == "my-cl100k"
    assert tok.count("hello") == get_tokenizer("cl100k_base").count("hello")


# -- transformers tokenizers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def transformers_tokenizer(hf_tokenizer_json: Path) -> Any:
    """A real transformers fast tokenizer over the test tokenizer.json."""
    transformers = pytest.importorskip("transformers")
    return transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(hf_tokenizer_json), name_or_path="test/bpe-600"
    )


def test_a_transformers_tokenizer_counts_its_text_without_special_tokens(
    transformers_tokenizer: Any, hf_tokenizer_json: Path
) -> None:
    """A transformers tokenizer is wrapped once, named 'transformers:<name_or_path>', and
    counts like the same tokenizer.json without special tokens (before, it was refused)."""
    tok = get_tokenizer(transformers_tokenizer)
    assert isinstance(tok, TransformersTokenizer)
    assert tok.name == "transformers:test/bpe-600"
    assert get_tokenizer(transformers_tokenizer) is tok
    reference = tokenizers.Tokenizer.from_file(str(hf_tokenizer_json))
    for text in TEXTS:
        ids = reference.encode(text, add_special_tokens=False).ids
        assert tok.count(text) == len(ids)
        assert tok.encode(text) == ids
    assert tok.decode(tok.encode("Hello, world!")) == "Hello, world!"


def test_a_transformers_tokenizer_counts_lone_surrogates_as_replacement_characters(
    transformers_tokenizer: Any,
) -> None:
    """Text that is not valid Unicode is counted as U+FFFD, the one policy of _unicode."""
    tok = get_tokenizer(transformers_tokenizer)
    assert tok.count("a\ud800b") == tok.count("a\ufffdb")


def test_a_build_with_a_transformers_tokenizer_stays_within_the_cap(
    transformers_tokenizer: Any,
) -> None:
    """The builder measures and cuts with the wrapped transformers tokenizer."""
    tok = get_tokenizer(transformers_tokenizer)
    result = build_context(
        {"summaries": "Maya works in Lisbon and prefers short answers. " * 300, "facts": "x"},
        max_tokens=200,
        tokenizer=transformers_tokenizer,
    )
    assert result.tokens == tok.count(result.text) <= 200
    assert result.tokenizer == "transformers:test/bpe-600"


class DuckTransformers:
    """Shaped like a transformers tokenizer (encode, decode, name_or_path), without the package:
    one id per character, plus a BOS id when special tokens are asked for."""

    name_or_path = "duck/chars"

    def encode(self, text: str, add_special_tokens: bool = True, **kwargs: Any) -> list[int]:
        return ([0] if add_special_tokens else []) + [ord(c) for c in text]

    def decode(self, ids: Sequence[int], **kwargs: Any) -> str:
        return "".join(chr(i) for i in ids if i)


def test_a_transformers_shaped_object_is_recognised_by_its_methods() -> None:
    """Duck typing: encode/decode/name_or_path are enough; special tokens are not counted."""
    tok = get_tokenizer(DuckTransformers())
    assert isinstance(tok, TransformersTokenizer)
    assert tok.name == "transformers:duck/chars"
    assert tok.count("hello") == 5
    assert tok.decode(tok.encode("héllo")) == "héllo"


def test_transformers_is_never_imported_unless_given_one() -> None:
    """Resolving names, objects and callables never imports transformers (nor httpx)."""
    code = (
        "import sys, ctxbudget, tiktoken\n"
        "from ctxbudget import get_tokenizer\n"
        "get_tokenizer('o200k_base'); get_tokenizer('claude-sonnet-4-5')\n"
        "get_tokenizer(len, name='chars'); get_tokenizer(tiktoken.get_encoding('o200k_base'))\n"
        "print(sorted(m for m in ('transformers', 'torch', 'httpx') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_wrapped_objects_satisfy_the_protocol() -> None:
    """Every wrapper get_tokenizer makes is a ctxbudget.Tokenizer."""
    for obj, name in ((_tiny_encoding("tiny2"), None), (DuckTransformers(), None), (len, "len")):
        assert isinstance(get_tokenizer(obj, name=name), ctxbudget.Tokenizer)
