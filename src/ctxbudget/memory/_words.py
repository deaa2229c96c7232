"""Word runs read fast: what a word pattern finds in ``text.lower()``, through a byte table.

``dedupe`` compares the ``\\w+`` words of items and the extractive summarizer scores sentences
by their letter runs (``[^\\W\\d_]{3,}``). Both read every item, so both read its words
through :func:`runs`: ``bytes.translate`` lowers each ASCII byte of the pattern's class and
makes every other ASCII byte a space, in one C-level pass, and ``split`` cuts at the spaces.
Bytes of non-ASCII characters stay as they are, so a piece holding one (``“quoted”``, ``café``,
a CJK line) goes to the pattern itself, and so does a text with many of them: 1.2-3.8x
faster than the pattern over ASCII and mostly-ASCII text, and the same words
(``tests/test_words.py`` checks it on arbitrary text).
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["MOSTLY_ASCII", "byte_table", "runs"]

#: UTF-8 bytes per character above which a text goes to the pattern whole: the byte table is
#: faster below about 1.4 (about a third of the words in Cyrillic), the
#: pattern above (``benchmarks/words.py``).
MOSTLY_ASCII = 1.3


def byte_table(in_class: Callable[[str], bool]) -> bytes:
    """A ``bytes.translate`` table: an ASCII byte whose character is ``in_class`` to its
    lowercase, any other ASCII byte to a space, and each byte >= 0x80 to itself."""
    ascii_part = bytes(ord(chr(b).lower()) if in_class(chr(b)) else 0x20 for b in range(128))
    return ascii_part + bytes(range(128, 256))


def runs(text: str, table: bytes, pattern: re.Pattern[str]) -> list[str]:
    """``pattern.findall(text.lower())``, in order, for a ``pattern`` that finds runs of one
    character class (``\\w+``, ``[^\\W\\d_]{3,}``) and a ``table`` from :func:`byte_table`
    of that class. Pieces of ASCII come back whatever their length: a caller whose pattern
    has a minimum length (``{3,}``) drops the shorter ones itself.

    The pieces between spaces hold no ASCII character outside the class, and every character
    ``str.split`` cuts at is whitespace, in no word class, so no run crosses two pieces; the
    text is lowered first exactly as the pattern's caller would lower it (a final sigma looks
    at its neighbours). Lone surrogates pass through as they are (``surrogatepass``).
    """
    if text.isascii():
        return text.encode().translate(table).decode().split()
    lowered = text.lower()
    data = lowered.encode("utf-8", "surrogatepass")
    if len(data) > MOSTLY_ASCII * len(lowered):  # many non-ASCII pieces: the pattern is faster
        return pattern.findall(lowered)
    pieces = data.translate(table).decode("utf-8", "surrogatepass").split()
    out: list[str] = []
    findall = pattern.findall
    for piece in pieces:
        if piece.isascii():
            out.append(piece)
        else:
            out += findall(piece)
    return out
