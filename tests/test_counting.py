"""Counting long texts from cached lines is exact: counts add up where the encodings say so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import corpus
from ctxbudget import CountCache, get_tokenizer

# Characters chosen to stress the pre-tokenizer regexes around newlines.
TRICKY = [
    *"\n\n\n\r\t  /\\.,;:!?-'\"()[]{}#*_=+<>|~`@$%^&",
    *"abcXYZ019",
    *["'s", "'LL", "é", "ß", "日本", "😀", "\u0301", "\u00a0", "\u2028", "<|endoftext|>"],
]
texts = st.lists(st.sampled_from(TRICKY), min_size=0, max_size=300).map("".join)


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
@settings(max_examples=600, deadline=None)
@given(text=texts)
def test_count_text_equals_a_whole_count(name: str, text: str) -> None:
    """Counting by cached blocks and lines gives exactly the whole text's count."""
    tok = get_tokenizer(name)
    assert CountCache().count_text(tok, text) == tok.count(text)


@pytest.mark.data
@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_count_text_is_exact_on_the_whole_corpus(shared_data: Path, name: str) -> None:
    """Over all of the shared corpus, chunk by chunk, the counts agree exactly."""
    tok = get_tokenizer(name)
    cache = CountCache(maxsize=1_000_000)
    for kind in ("conversations", "pydocs", "jargon"):
        text = corpus.source_text(kind)
        for start in range(0, len(text), 250_000):
            piece = text[start : start + 250_000]
            assert cache.count_text(tok, piece) == tok.count(piece), (kind, start)


def test_count_text_reuses_cached_lines() -> None:
    """A second text sharing lines with the first encodes only its new lines."""
    tok = get_tokenizer("o200k_base")
    cache = CountCache()
    cache.count_text(tok, "## A\nfirst line.\nsecond line.\n\n## B\nother")
    misses = cache.misses
    assert cache.count_text(tok, "## A\nfirst line.\nsecond line.\n\n## B\nnew") == tok.count(
        "## A\nfirst line.\nsecond line.\n\n## B\nnew"
    )
    # the first block is one hit; the second block and its one new line are the misses
    assert cache.misses - misses == 2


def test_tokenizers_without_the_guarantee_count_whole() -> None:
    """For tokenizers not known to add up at newlines, nothing is split or cached."""
    tok = get_tokenizer("approx")
    cache = CountCache()
    assert cache.count_text(tok, "abc\ndef\n\nghi") == tok.count("abc\ndef\n\nghi")
    assert len(cache) == 0


def test_preset_cache_notices_an_edited_base_file(tmp_path: Path) -> None:
    """A cached preset is reloaded when any file of its extends chain changes."""
    from ctxbudget import load_preset

    base = tmp_path / "base.yaml"
    child = tmp_path / "child.yaml"
    base.write_text("sections:\n  a: 0.5\n  b: 0.5\n")
    child.write_text("extends: base.yaml\nsections:\n  a: 0.9\n")
    assert load_preset(child).weights() == {"a": 0.9, "b": 0.5}
    assert load_preset(child) is load_preset(child)
    base.write_text("sections:\n  a: 0.5\n  b: 0.25\n")
    os.utime(base, ns=(0, 10**9))  # make the change visible even within one mtime tick
    assert load_preset(child).weights() == {"a": 0.9, "b": 0.25}


def test_cached_tokenizer_counts_each_text_once() -> None:
    """A CachedTokenizer gives the inner counts, encoding a repeated text only once."""
    from ctxbudget.testing import CharTokenizer
    from ctxbudget.tokenizers import CachedTokenizer

    class Recording(CharTokenizer):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def count(self, text: str) -> int:
            self.seen.append(text)
            return len(text)

    inner = Recording()
    cached = CachedTokenizer(inner)
    assert [cached.count("abc"), cached.count("abc"), cached.count("de")] == [3, 3, 2]
    assert inner.seen == ["abc", "de"]
    assert cached.name == inner.name
    assert cached.decode(cached.encode("héllo")) == "héllo"


def test_compactor_does_not_recount_the_history_every_turn() -> None:
    """Re-measuring an unchanged conversation encodes nothing new."""
    from ctxbudget import Compactor
    from ctxbudget.testing import CharTokenizer

    class Recording(CharTokenizer):
        calls = 0

        def count(self, text: str) -> int:
            Recording.calls += 1
            return len(text)

    agent = Compactor(100_000, tokenizer=Recording())
    agent.add(*[{"role": "user", "content": f"message {i}"} for i in range(50)])
    agent.prompt()
    before = Recording.calls
    for _ in range(5):
        agent.prompt()
        agent.tokens()
    assert Recording.calls == before


@pytest.mark.parametrize(
    "char", ["a", "Z", "1", ".", "-", "é", "中", "/", " ", "\t", "\n", "\xa0", "\u2028", "\x1c"]
)
def test_the_chunker_cuts_exactly_where_the_boundary_rule_says(char: str) -> None:
    """``_chunks`` writes the rule out for speed; it must cut where ``adds_up_before`` says."""
    from ctxbudget.tokenizers._counting import _chunks, adds_up_before

    assert (_chunks(f"a\n{char}b", "\n") == ["a\n", f"{char}b"]) is adds_up_before(char)
