"""The fast sentence cutter and the one-pass Luhn scores agree with their plain definitions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ctxbudget.memory._sentences import (
    SENTENCE,
    STOPWORDS,
    WORD,
    _content,
    luhn,
    scored_lines,
    split_body,
)

# Letters, digits, stops, quotes, brackets, spaces and newlines: every character the cut rule
# looks at, in every order.
_TEXT = st.text(alphabet="aZé1.!? \n\t\"'([_Σ", max_size=60)


@settings(max_examples=1000)
@given(_TEXT)
def test_split_body_is_the_regex_split(text: str) -> None:
    assert split_body(text) == SENTENCE.split(text)


def test_a_stop_after_a_digit_is_no_cut_but_its_newline_is() -> None:
    assert split_body("step 1.\nNext. Then") == ["step 1.", "Next.", "Then"]
    assert split_body("ok.  Go") == ["ok.", "Go"]
    assert split_body("e.g. the") == ["e.g. the"]


@given(st.lists(st.sampled_from(["user: ", "bob: ", ""]), max_size=3), st.lists(_TEXT, max_size=3))
def test_scores_are_luhn_scores_of_the_lines(speakers: list[str], bodies: list[str]) -> None:
    items = [s + b for s, b in zip(speakers, bodies, strict=False)]
    lines, scores = scored_lines(items)
    score = luhn(lines)
    assert scores == [score(line) for line in lines]


def test_scores_by_hand() -> None:
    # content words: "alpha beta" | "user", "alpha" -> alpha 2, beta 1, user 1
    lines, scores = scored_lines(["Alpha beta. The an", "user: alpha"])
    assert lines == ["Alpha beta.", "user: alpha"]
    assert scores == [3 / 2**0.5, 3 / 2**0.5]


@given(st.text(max_size=40) | st.text(alphabet="aB_1 .é'Zz-", max_size=40))
def test_content_words_are_the_regex_words(text: str) -> None:
    expected = [w for w in WORD.findall(text.lower()) if w not in STOPWORDS]
    assert _content(text) == expected
