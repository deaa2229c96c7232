"""The byte-table word reader finds what its pattern finds in the lowered text, on any text."""

from __future__ import annotations

import re
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxbudget.memory import _words as _words_module
from ctxbudget.memory._reducers import _words
from ctxbudget.memory._sentences import STOPWORDS, WORD, _content
from ctxbudget.memory._words import byte_table, runs

# ASCII word and non-word characters beside letters whose lowercase is ASCII (KELVIN SIGN),
# longer (I WITH DOT ABOVE: "i" and a combining dot, no word character), context-dependent
# (a final sigma), curly quotes, a lone surrogate, a no-break space and CJK.
_TRICKY = "aB_1 .é'Zz-ΣΑσ“”\u212a\u0130\ud83d\n\t\xa0中文"
_TEXT = st.text(max_size=60) | st.text(alphabet=_TRICKY, max_size=60)


# Each text both ways: through the byte table whatever its share of non-ASCII characters
# (inf), and as it comes (the table for mostly-ASCII text, the pattern for the rest).
_WHOLE_TEXT_CUTOFF = [float("inf"), _words_module.MOSTLY_ASCII]


@pytest.mark.parametrize("cutoff", _WHOLE_TEXT_CUTOFF)
@settings(max_examples=2000)
@given(text=_TEXT)
def test_dedupe_words_are_the_regex_words_of_the_lowered_text(cutoff: float, text: str) -> None:
    with patch.object(_words_module, "MOSTLY_ASCII", cutoff):
        assert _words(text) == re.findall(r"\w+", text.lower())


@pytest.mark.parametrize("cutoff", _WHOLE_TEXT_CUTOFF)
@settings(max_examples=2000)
@given(text=_TEXT)
def test_content_words_are_the_regex_letter_runs_without_stopwords(
    cutoff: float, text: str
) -> None:
    with patch.object(_words_module, "MOSTLY_ASCII", cutoff):
        expected = [w for w in WORD.findall(text.lower()) if w not in STOPWORDS]
        assert _content(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Café “Naïve” x_1", ["café", "naïve", "x_1"]),
        # lowered whole, the sigma is not final ("." then a capital follow it); lowered per
        # piece it would be "ας"
        ("ΑΣ.Β", ["ασ", "β"]),
        ("\u212aelvin", ["kelvin"]),  # KELVIN SIGN lowers to ASCII "k"
        ("bad \ud83d half", ["bad", "half"]),
        ("中文 text", ["中文", "text"]),
        ("Быстрая лиса, fox", ["быстрая", "лиса", "fox"]),  # mostly non-ASCII: the pattern
    ],
)
def test_words_by_hand(text: str, words: list[str]) -> None:
    assert _words(text) == words


def test_a_piece_of_ascii_keeps_its_length_and_the_pattern_its_minimum() -> None:
    # the byte table cuts ASCII pieces of any length; the pattern's {3,} applies elsewhere
    table = byte_table(str.isalpha)
    assert runs("an ox é", table, WORD) == ["an", "ox"]
    assert runs("an éox", table, WORD) == ["an", "éox"]
    assert runs("an ox", table, WORD) == ["an", "ox"]
