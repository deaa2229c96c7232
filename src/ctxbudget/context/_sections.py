"""Sections: one named part of the context window, its content and its options."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError, field_validator

from ._options import SectionOptions, options_error

__all__ = ["Section", "default_title"]


class Section(SectionOptions):
    """One named part of the context window, with its priority weight and trimming options.

    Options (every attribute of :class:`~ctxbudget.context.SectionOptions`: ``weight``,
    ``min_tokens``, ``max_tokens``, ``required``, ``keep``, ``split``, ``title``,
    ``reducers``) left as ``None`` come from the preset's entry for ``name``, then the defaults.

    Args:
        name: the section's name; selects its entry in a preset.
        content: one text (split into items by ``split``), or a sequence of items (strings)
            oldest first. It is kept as given, never copied.
        **options: the section options.

    Raises:
        SectionError: the name is empty, only blanks or holds a control character (see
            :func:`name_problem`), the content is not text or a sequence, or an option has the
            wrong type or range (the message names the section and the option).

    >>> Section(name="facts", content="Maya lives in Lisbon", weight=2).weight
    2.0
    """

    name: str
    content: Any

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise options_error(exc, str(data.get("name"))) from None

    @field_validator("name")
    @classmethod
    def _one_line_name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("content")
    @classmethod
    def _text_or_items(cls, value: Any) -> Any:
        if isinstance(value, str) or (
            isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray))
        ):
            return value
        raise ValueError(f"must be a str or a sequence of str, got {type(value).__name__}")


def name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a section name, or ``None``: it must hold something besides
    blanks, and no control character (a newline in a name would put a line of its own into the
    header it becomes).

    >>> name_problem("userFacts") is None
    True
    >>> name_problem("a\\nb")
    'must be one line without control characters'
    """
    if not name.strip():
        return "must hold more than blanks" if name else "must be a non-empty string"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "must be one line without control characters"
    return None


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
