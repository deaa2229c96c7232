"""Items: how a section's text splits into the units trimming keeps or removes whole.

An *item* is a line, a paragraph, or a bullet with its indented continuation lines, or one
element of a sequence. Blank lines are never items: they are the gaps between items and are kept
verbatim between kept items. Splitting is lazy and starts from the kept end, so a section far
larger than the cap is never split in full.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._options import Split

__all__ = ["gap_after", "item_spans"]


def _is_blank(text: str, start: int, end: int) -> bool:
    return start == end or text[start:end].isspace()


def _line_spans(text: str, reverse: bool) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each line, without its newline, lazily in the given direction."""
    n = len(text)
    if reverse:
        end = n
        while True:
            start = text.rfind("\n", 0, end) + 1
            yield start, end
            if start == 0:
                return
            end = start - 1
    else:
        start = 0
        while True:
            end = text.find("\n", start)
            if end < 0:
                yield start, n
                return
            yield start, end
            start = end + 1


def item_spans(text: str, split: Split, reverse: bool) -> Iterator[tuple[int, int]]:
    """Spans of the items of ``text``, nearest the kept end first, without reading past them.

    Work is proportional to the text consumed, so a section far larger than the cap is never
    split in full.
    """
    group: tuple[int, int] | None = None  # (start, end) of the item being gathered
    for start, end in _line_spans(text, reverse):
        blank = _is_blank(text, start, end)
        if group is not None:
            if blank or split == "lines":
                joined = False
            elif split == "paragraphs":
                joined = True
            else:  # bullets: the lower line of the pair continues the item if indented
                lower = group[0] if reverse else start
                joined = text[lower] in " \t"
            if joined:
                group = (start, group[1]) if reverse else (group[0], end)
                continue
            yield group
            group = None
        if not blank:
            group = (start, end)
    if group is not None:
        yield group


def gap_after(text: str, end: int) -> str:
    """The newlines and blank lines between an item ending at ``end`` and the next item."""
    j = end
    n = len(text)
    while j < n and text[j].isspace():
        j += 1
    if j == n:
        return ""
    return text[end : text.rfind("\n", end, j) + 1]
