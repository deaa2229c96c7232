"""Sections, their options, and how their content splits into items (lazily, from the kept end).

An *item* is the unit trimming keeps or removes whole: a line, a paragraph, or a bullet with
its indented continuation lines, or one element of a sequence. Blank lines are never items: they
are the gaps between items and are kept verbatim between kept items.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._errors import SectionError
from .typing import Content

__all__ = ["Keep", "Section", "Split", "default_title"]

#: Which end of a section survives trimming: ``"end"`` keeps the newest (last) items.
Keep = Literal["end", "start"]
#: How text content splits into items (see :class:`Section`).
Split = Literal["lines", "paragraphs", "bullets"]

_KEEPS = ("end", "start")
_SPLITS = ("lines", "paragraphs", "bullets")


@dataclass(frozen=True, kw_only=True)
class Section:
    """One named part of the context window, with its priority weight and trimming options.

    Options left as ``None`` come from the preset's entry for ``name`` (then its defaults).

    Args:
        name: the section's name; selects its entry in a preset.
        content: one text, or a sequence of items (strings) oldest first.
        weight: priority weight (>= 0, finite); shares of the cap are proportional to it and
            higher weights are assembled first and trimmed last.
        min_tokens: tokens the section gets before weights share the rest (header included),
            if it is present at all.
        max_tokens: most tokens the section may use (header included), even with no cap.
        required: never trimmed or dropped; the build raises
            :class:`~ctxbudget.RequiredSectionsExceedCap` when required sections alone exceed
            the cap. A store of a required section that raises fails the build.
        keep: ``"end"`` (default) keeps the newest, last items; ``"start"`` the first ones.
        split: for text content: ``"lines"`` (default) makes each non-blank line an item;
            ``"paragraphs"`` makes each run of non-blank lines an item; ``"bullets"`` starts an
            item at each unindented line and keeps indented lines with it.
        title: the header text; default derived from ``name`` (``userFacts`` -> ``User facts``).
        reducers: reducers run, in order, before trimming when the section is over its
            allocation: names (``"dedupe"``) or ``{name: {option: value}}``; see
            ``ctxbudget._reducers``.

    Raises:
        SectionError: an option has the wrong type or range (the message names it).
    """

    name: str
    content: Content
    weight: float | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    required: bool | None = None
    keep: Keep | None = None
    split: Split | None = None
    title: str | None = None
    reducers: Sequence[str | Mapping[str, Any]] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SectionError("name must be a non-empty string", section=str(self.name))
        check_options(
            self.name,
            weight=self.weight,
            min_tokens=self.min_tokens,
            max_tokens=self.max_tokens,
            required=self.required,
            keep=self.keep,
            split=self.split,
            title=self.title,
        )
        if self.reducers is not None:
            from ._reducers import reducer_from_spec

            for spec in self.reducers:
                reducer_from_spec(spec, self.name)  # raises SectionError when invalid
        if not isinstance(self.content, str) and (
            not isinstance(self.content, Sequence) or isinstance(self.content, bytes)
        ):
            raise SectionError(
                f"content must be a str or a sequence of str, got {type(self.content).__name__}",
                section=self.name,
            )


def check_options(
    name: str,
    *,
    weight: object = None,
    min_tokens: object = None,
    max_tokens: object = None,
    required: object = None,
    keep: object = None,
    split: object = None,
    title: object = None,
) -> None:
    """Validate section options given outside a preset; raise :class:`SectionError`."""
    if weight is not None and (
        isinstance(weight, bool)
        or not isinstance(weight, (int, float))
        or not math.isfinite(weight)
        or weight < 0
    ):
        raise SectionError(f"weight must be a finite number >= 0, got {weight!r}", section=name)
    for field, value in (("min_tokens", min_tokens), ("max_tokens", max_tokens)):
        bad = isinstance(value, bool) or not isinstance(value, int) or value < 0
        if value is not None and bad:
            raise SectionError(f"{field} must be a whole number >= 0, got {value!r}", section=name)
    if (
        isinstance(min_tokens, int)
        and isinstance(max_tokens, int)
        and min_tokens is not None
        and max_tokens is not None
        and min_tokens > max_tokens
    ):
        raise SectionError(
            f"min_tokens ({min_tokens}) is greater than max_tokens ({max_tokens})", section=name
        )
    if required is not None and not isinstance(required, bool):
        raise SectionError(f"required must be true or false, got {required!r}", section=name)
    if keep is not None and keep not in _KEEPS:
        raise SectionError(f"keep must be 'end' or 'start', got {keep!r}", section=name)
    if split is not None and split not in _SPLITS:
        raise SectionError(
            f"split must be one of 'lines', 'paragraphs', 'bullets', got {split!r}", section=name
        )
    if title is not None and not isinstance(title, str):
        raise SectionError(f"title must be a string, got {title!r}", section=name)


def default_title(name: str) -> str:
    """A readable header from a section name: ``userFacts`` / ``user_facts`` -> ``User facts``."""
    words: list[str] = []
    current = ""
    for ch in name:
        if ch in "_-. ":
            if current:
                words.append(current)
            current = ""
        elif ch.isupper() and current and not current[-1].isupper():
            words.append(current)
            current = ch
        else:
            current += ch
    if current:
        words.append(current)
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    return text[:1].upper() + text[1:] if text else name


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
