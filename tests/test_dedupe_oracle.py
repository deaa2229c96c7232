"""``dedupe`` finds near duplicates through an index, with the same result as comparing every
pair: checked against a plain all-pairs version of the documented rule, on random and real text."""

from __future__ import annotations

import json
import math
import random
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ctxbudget.memory import Reduction, dedupe
from ctxbudget.memory._jaccard import JaccardIndex
from ctxbudget.testing import CharTokenizer, WordTokenizer

CHAR = CharTokenizer()


def all_pairs_dedupe(
    items: list[str], threshold: float, tokenizer: CharTokenizer | WordTokenizer = CHAR
) -> tuple[list[str], Reduction]:
    """The oracle, from the documented rule: read items newest first; an item goes if its
    lowercased ``\\w+`` words, joined by spaces, equal a kept item's, or if its word set is not
    empty and its Jaccard similarity with any kept item's word set is >= ``threshold``."""
    kept: list[tuple[int, str, set[str]]] = []
    for index in range(len(items) - 1, -1, -1):
        words = re.findall(r"\w+", items[index].lower())
        key, word_set = " ".join(words), set(words)
        duplicate = False
        for _, other_key, other_set in kept:
            if key == other_key:
                duplicate = True
            elif word_set:
                union = word_set | other_set
                duplicate = len(word_set & other_set) / len(union) >= threshold
            if duplicate:
                break
        if not duplicate:
            kept.append((index, key, word_set))
    kept_at = {index for index, _, _ in kept}
    kept_items = [item for i, item in enumerate(items) if i in kept_at]
    removed = [item for i, item in enumerate(items) if i not in kept_at]
    freed = tokenizer.count("\n".join(items)) - tokenizer.count("\n".join(kept_items))
    return kept_items, Reduction("dedupe", removed, [], freed)


#: Few words, in several cases and scripts (a final sigma, a dotted capital I that lowercases to
#: two code points, CJK, digits and underscores), so near duplicates come up all the time.
VOCAB = ["a", "b", "c", "Ab", "ab", "AB", "x_1", "42", "ΣΑΣ", "σας", "İd", "i̇d", "日本", "ß"]
SEPARATORS = [" ", "  ", "\t", ", ", "\n", "-", "! ", "\u00a0", "\u3000"]
#: Thresholds at the edges: exact fractions a match can hit, their float neighbours, 0, 1,
#: outside [0, 1] and not a number.
EDGES = sorted(
    {a / b for b in range(1, 13) for a in range(b + 1)}
    | {math.nextafter(a / b, d) for b in (3, 7, 9, 10) for a in (b - 1, 2) for d in (0, 2)}
    | {-1.0, 1.0 + 1e-12, 1.5, math.inf, -math.inf}
)
THRESHOLDS = st.one_of(
    st.sampled_from([*EDGES, math.nan, 0, 1]),
    st.floats(min_value=0, max_value=1),
    st.floats(allow_nan=True, allow_infinity=True),
)


@st.composite
def phrase(draw: st.DrawFn, vocab: list[str] = VOCAB, max_words: int = 6) -> str:
    """Words of a small vocabulary joined by mixed separators, sometimes padded."""
    words = draw(st.lists(st.sampled_from(vocab), max_size=max_words))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words), max_size=len(words)))
    text = "".join(w + s for w, s in zip(words, seps, strict=True))
    return draw(st.sampled_from(["", " ", "."])) + text


ITEMS = st.lists(
    st.one_of(
        phrase(),
        st.sampled_from(["", " ", "\n", "\t \n", "...", "—", "日本"]),
        st.text(alphabet="aAbB _1.ςΣİ\n", max_size=10),
        st.text(alphabet=st.characters(max_codepoint=127), max_size=10),  # every ASCII byte
    ),
    max_size=40,
)


@st.composite
def variants(draw: st.DrawFn) -> list[str]:
    """Longer items made from a few base word lists by dropping, adding and replacing words,
    so pairs sit just above and just below common thresholds (the prefix filter's hard case)."""
    vocab = [f"w{i}" for i in range(draw(st.integers(8, 60)))]
    bases = draw(
        st.lists(st.lists(st.sampled_from(vocab), min_size=1, max_size=40), min_size=1, max_size=4)
    )
    items = []
    for _ in range(draw(st.integers(0, 30))):
        words = list(draw(st.sampled_from(bases)))
        for _ in range(draw(st.integers(0, 3))):
            op, pos = draw(st.integers(0, 2)), draw(st.integers(0, len(words)))
            if op == 0 and len(words) > 1:
                del words[min(pos, len(words) - 1)]
            elif op == 1:
                words.insert(pos, draw(st.sampled_from(vocab)))
            else:
                words[min(pos, len(words) - 1)] = draw(st.sampled_from(vocab))
        items.append(" ".join(words))
    return items


@given(ITEMS, THRESHOLDS)
@settings(max_examples=600, deadline=None)
@example(["", " ", "a", ""], 0.0)
@example(["a b", "", "a b c"], -1.0)
@example(["a", "A"], math.nan)
@example(["a b c d e f g h i j", "a b c d e f g h i"], 0.9)
@example(["ΣΑΣ σας", "σας"], 1.0)
def test_dedupe_equals_all_pairs_on_short_mixed_items(items: list[str], threshold: float) -> None:
    """Any items and any threshold: the same kept items, order and report as all pairs."""
    assert dedupe(threshold)(items, CHAR) == all_pairs_dedupe(items, threshold)


@given(variants(), st.one_of(st.sampled_from(EDGES), st.floats(0.3, 1.0)))
@settings(max_examples=400, deadline=None)
def test_dedupe_equals_all_pairs_on_long_near_duplicates(
    items: list[str], threshold: float
) -> None:
    """Long word sets that differ by a few words: the prefix index misses no match."""
    assert dedupe(threshold)(items, CHAR) == all_pairs_dedupe(items, threshold)


def _corpus_items(data: Path, n: int, seed: int) -> list[str]:
    """``n`` real ShareGPT message lines from a seeded offset, with planted near duplicates."""
    rng = random.Random(seed)
    path = data / "sharegpt" / "conversations.jsonl"
    lines = []
    with path.open(encoding="utf-8") as fh:
        for row in fh:
            for message in json.loads(row)["messages"] if row.strip() else []:
                lines += [line.strip() for line in message["content"].split("\n") if line.strip()]
    start = rng.randrange(len(lines) - n)
    items = lines[start : start + n]
    for _ in range(n // 10):
        words = rng.choice(items).split()
        if len(words) > 1:
            del words[rng.randrange(len(words))]
        items.insert(rng.randrange(len(items) + 1), " ".join(words))
    return items


@pytest.mark.data
@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9, 1.0])
def test_dedupe_equals_all_pairs_on_real_text(shared_data: Path, threshold: float) -> None:
    """Real message lines with real and planted near duplicates: equal, with a real count."""
    items = _corpus_items(shared_data, 700, seed=int(threshold * 10))
    words = WordTokenizer()
    kept, reduction = dedupe(threshold)(items, words)
    assert (kept, reduction) == all_pairs_dedupe(items, threshold, words)
    assert reduction.removed  # the sample has duplicates to find


@st.composite
def near_sets(draw: st.DrawFn) -> list[frozenset[int]]:
    """Word sets made from a few base sets by removing and adding words: many pairs share
    only some of their rarest words, where the index's count filter decides."""
    vocab = draw(st.integers(3, 50))
    bases = draw(st.lists(st.frozensets(st.integers(0, vocab), min_size=1), min_size=1, max_size=3))
    sets = []
    for _ in range(draw(st.integers(1, 25))):
        words = set(draw(st.sampled_from(bases)))
        words -= draw(st.frozensets(st.integers(0, vocab), max_size=3))
        words |= draw(st.frozensets(st.integers(0, vocab), max_size=3))
        sets.append(frozenset(words))
    return sets


@given(
    near_sets(),
    st.one_of(st.sampled_from(EDGES), st.floats(0.05, 1.0), st.fractions(0, 1, max_denominator=40)),
    st.booleans(),
)
@settings(max_examples=800, deadline=None)
@example([frozenset(), frozenset({0})], -math.inf, False)
@example([frozenset(range(10)), frozenset(range(9))], 0.9, True)
@example([frozenset(range(9, 19)), frozenset(range(10))], 0.05, False)  # alpha 1: one word
def test_jaccard_index_equals_all_pairs(
    sets: list[frozenset[int]], threshold: float | Fraction, as_tuples: bool
) -> None:
    """The index answers as comparing a set with every set added before, as frozensets or
    as tuples without repeats (what ``dedupe`` hands it). An empty set matches nothing but
    is added, and is then a set a later one is compared with (similarity 0)."""
    index = JaccardIndex([tuple(s) if as_tuples else s for s in sets], threshold)
    added: list[frozenset[int]] = []
    for i, words in enumerate(sets):
        similar = bool(words) and any(len(words & b) / len(words | b) >= threshold for b in added)
        assert index.add_unless_similar(i) is not similar
        if not similar:
            added.append(words)
