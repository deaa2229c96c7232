"""What the commands read and how they say what went wrong: sections from PATHS (``-`` is
stdin), template errors as one line naming the file, the line and the variables there are.
"""

from __future__ import annotations

import re
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import ConfigurationError, SectionError, TemplateError

if TYPE_CHECKING:
    from ..context import Section

__all__ = ["STDIN", "STDIN_ORIGIN", "read_sections", "template_message"]

#: The PATH that stands for standard input.
STDIN = "-"
#: How standard input is named in error messages.
STDIN_ORIGIN = "<stdin>"

_SECTION_OBJECT = re.compile(r"'[\w.]*SectionView object'")


def _read_stdin(name: str) -> str:
    """All of standard input, decoded as UTF-8 (whatever the locale says), for section
    ``name``.

    Raises:
        SectionError: it is not UTF-8 text.
        ConfigurationError: there is no stdin (it is closed).
    """
    stream = sys.stdin
    if stream is None:  # closed (`<&-`) or never opened (a windowed program)
        raise ConfigurationError(f"PATH '{STDIN}': stdin is closed, there is nothing to read")
    raw = getattr(stream, "buffer", None)
    if raw is None:  # a text stream without bytes underneath (an embedding program's)
        return stream.read()
    data = raw.read()
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SectionError(f"{STDIN_ORIGIN}: not UTF-8 text ({exc.reason})", section=name) from exc


def read_sections(paths: list[str], stdin_name: str) -> list[Section]:
    """The sections of ``paths`` (:func:`~ctxbudget.context.load_sections`), where the path
    ``-`` exactly (not ``./-``, a file named ``-``) is one section read from standard input:
    named ``stdin_name`` unless front matter names it, with front matter and item markers
    read as in a file. Sections come in the order of ``paths``.

    Raises:
        SectionError: as :func:`~ctxbudget.context.load_sections`; the stdin section's name
            is also a file's; stdin is not UTF-8.
        ConfigurationError: ``-`` is given more than once, ``stdin_name`` is blank, or
            stdin is closed.
    """
    from ..context import load_sections
    from ..context._files import section_from_text

    at = [i for i, p in enumerate(paths) if p == STDIN]
    if not at:
        return load_sections([Path(p) for p in paths])
    if len(at) > 1:
        raise ConfigurationError(f"'{STDIN}' (stdin) is given {len(at)} times: give it once")
    if not stdin_name.strip():
        raise ConfigurationError(f"--stdin-name {stdin_name!r}: a section needs a name, not blanks")
    before = load_sections([Path(p) for p in paths[: at[0]]])
    after = load_sections([Path(p) for p in paths[at[0] + 1 :]])
    piped = section_from_text(_read_stdin(stdin_name), origin=Path(STDIN_ORIGIN), name=stdin_name)
    names = [s.name for s in (*before, *after)]
    if piped.name in names:
        raise SectionError(
            f"{STDIN_ORIGIN} and a file both give the section name {piped.name!r} "
            "(name stdin's section with --stdin-name)",
            section=piped.name,
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SectionError(
            f"two files give the section name {twice[0]!r} (on each side of '-')",
            section=twice[0],
        )
    return [*before, piped, *after]


def _variables() -> str:
    """The variables an assembly template has, in words."""
    from ..context import SectionView

    attributes = ", ".join(f.name for f in fields(SectionView))
    return (
        f"available variables: sections (a list, highest priority first; each has "
        f"{attributes}), range, and loop inside a for loop"
    )


def template_message(exc: TemplateError, template: Path) -> str:
    """One line for a ``--template`` error: ``FILE:LINE: what``, and, when a name or
    attribute is undefined, the variables the template may use."""
    import jinja2

    text = str(exc)
    if exc.line is not None:
        text = text.removeprefix(f"template line {exc.line}: ")
    text = text.removeprefix(f"{template}: ")
    cause = exc.__cause__
    undefined = isinstance(cause, jinja2.UndefinedError)
    if undefined:
        text = "rendering failed: " + _SECTION_OBJECT.sub("a section", str(cause))
    where = f"{template}:{exc.line}" if exc.line is not None else str(template)
    return f"{where}: {text}" + (f"; {_variables()}" if undefined else "")
