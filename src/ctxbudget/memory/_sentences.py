"""Sentences and their Luhn scores: what :meth:`ExtractiveSummarizer.summarize` ranks.

An item may start with a speaker (``"user: ..."``); its body is cut into sentences at line
breaks and after ``.!?`` that follows a letter when the next word starts with a capital, a digit,
a quote or a bracket. A sentence with no content word (three letters or more, not a stopword)
is left out. Each kept line ``"speaker: sentence"`` is scored by the frequency of its content
words over all the lines, over the root of their number (H. P. Luhn, "The Automatic Creation of
Literature Abstracts", IBM Journal, 1958).

Everything is read once: one scan of each body for its cuts, one word pass per sentence, one
count of all words; the score of a line is computed once, from the words already found.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import chain, filterfalse
from string import ascii_lowercase

from ._words import byte_table, runs

__all__ = ["SENTENCE", "STOPWORDS", "WORD", "luhn", "scored_lines", "split_body"]

_SPEAKER = re.compile(r"^(\w[\w .-]{0,30}):\s")
#: The cut rule as one pattern: ``re.split`` with it gives what :func:`split_body` gives.
SENTENCE = re.compile(r"(?<=[^\W\d_][.!?])\s+(?=[A-Z0-9\"'(\[])|\n+")
# The same cuts found from the stop itself, the letter before it checked by hand: a pattern
# that starts with one character set is scanned for fast (a branch at the start is not).
_CUT = re.compile(r"[.!?\n](?:(?<=\n)\n*|(?<=[.!?])\s+(?=[A-Z0-9\"'(\[]))")
_LETTER = re.compile(r"[^\W\d_]")
_NEWLINES = re.compile(r"\n+")
WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
STOPWORDS = frozenset(
    "the and for that with this you are was were have has had but not from they their there "  # noqa: SIM905
    "what when which who will would can could should about into than then them these those "
    "your our its also just been being more most some such only other over very any all how "
    "why where here does did doing done out get got one two may might must shall let".split()
)


def split_body(text: str) -> list[str]:
    """``SENTENCE.split(text)``, about three times faster on long texts.

    A stop match not preceded by a letter is no cut, but the newlines in its whitespace still
    are (as ``SENTENCE``'s second branch finds them there)."""
    out: list[str] = []
    start = 0
    letter = _LETTER.match
    for match in _CUT.finditer(text):
        begin, end = match.span()
        if text[begin] == "\n":
            out.append(text[start:begin])
            start = end
        elif begin and letter(text, begin - 1):
            out.append(text[start : begin + 1])
            start = end
        else:
            for run in _NEWLINES.finditer(text, begin + 1, end):
                out.append(text[start : run.start()])
                start = run.end()
    out.append(text[start:])
    return out


#: The letter runs' byte table (``[^\W\d_]`` on ASCII is ``[A-Za-z]``), and what a content
#: word is not: a stopword, or a run of one or two ASCII letters (the table's pieces are
#: lowercase a-z, so these are all 702 of them).
_LETTER_TABLE = byte_table(str.isalpha)
_NOT_CONTENT = STOPWORDS | {a + b for a in ascii_lowercase for b in ("", *ascii_lowercase)}


def _content(text: str) -> list[str]:
    """The content words of ``text``: WORD's runs of ``text.lower()`` that are no stopword."""
    return list(filterfalse(_NOT_CONTENT.__contains__, runs(text, _LETTER_TABLE, WORD)))


def scored_lines(items: Sequence[str]) -> tuple[list[str], list[float]]:
    """The lines ``"speaker: sentence"`` (``"sentence"`` without a speaker) of ``items`` in
    order, whitespace runs made single spaces, and the Luhn score of each: the summed
    frequencies of its content words (the speaker's included) over the root of their number.
    """
    lines: list[str] = []
    words: list[list[str]] = []
    for item in items:
        speaker, body = "", item
        match = _SPEAKER.match(item)
        if match:
            speaker, body = match.group(1), item[match.end() :]
        # A line's words are its speaker's then its sentence's: ": " splits no word.
        head = _content(speaker) if speaker else []
        for raw in split_body(body):
            sentence = " ".join(raw.split())
            content = _content(sentence)
            if content:
                lines.append(f"{speaker}: {sentence}" if speaker else sentence)
                words.append(head + content if head else content)
    frequency = Counter(chain.from_iterable(words))
    get = frequency.__getitem__
    return lines, [sum(map(get, w)) / (len(w) ** 0.5 or 1.0) for w in words]


def luhn(lines: Sequence[str]) -> Callable[[str], float]:
    """Luhn's score over ``lines``: the frequency of a line's content words, over the root of
    their number."""
    frequency = Counter(w for x in lines for w in _content(x))

    def score(line: str) -> float:
        words = _content(line)
        return sum(frequency[w] for w in words) / (len(words) ** 0.5 or 1.0)

    return score
