"""griffe extension for the API reference: the package's docstrings, read as Markdown.

The docstrings are Google style with two reStructuredText habits, kept because ``help()`` and
doctest read them: Sphinx roles (``:class:`~ctxbudget.Preset```) and doctest blocks (``>>>``
lines). In Markdown a role shows its markup and ``>>>`` nests three block quotes, so before
griffe parses a docstring this extension turns each role into a cross-reference (a link when
the target is on the site, plain code otherwise) and each doctest block into a ``pycon`` code
block. Loaded by ``mkdocs.yml`` (mkdocstrings' ``extensions`` option).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|data|mod|attr|exc|obj):`(~?)([^`<>]+?)(?: <([^`<>]+)>)?`")


def _reference(match: re.Match[str]) -> str:
    short, text, explicit = match.groups()
    target = explicit or text
    shown = text if explicit else (target.rsplit(".", 1)[-1] if short else target)
    # Optional: no warning when the target is not on the site (a private module, a method).
    return f'<autoref identifier="{target}" optional><code>{shown}</code></autoref>'


def markdown_docstring(text: str) -> str:
    """``text`` with roles as references and doctest blocks fenced as ``pycon``."""
    text = _ROLE.sub(_reference, text)
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(">>>") and (not out or not out[-1].strip()):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            out.append(f"{indent}```")
            continue
        # No docstring means a block quote: a wrapped line that starts with ">" (">= 0") is text.
        if stripped.startswith(">"):
            line = f"{line[: len(line) - len(stripped)]}\\{stripped}"
        # reStructuredText's "text::" before a literal block is "text:" in Markdown.
        out.append(line[:-1] if line.endswith("::") and not stripped.startswith("::") else line)
        i += 1
    return "\n".join(out)


def doc_comment(lines: list[str], lineno: int) -> str | None:
    """The ``#:`` comment lines right above line ``lineno`` (1-based), joined, or ``None``."""
    comment: list[str] = []
    i = lineno - 2
    while i >= 0 and lines[i].lstrip().startswith("#:"):
        comment.insert(0, lines[i].lstrip()[2:].strip())
        i -= 1
    return "\n".join(comment) or None


class MarkdownDocstrings(griffe.Extension):
    """Rewrites every docstring before it is parsed (see :func:`markdown_docstring`), and
    gives a constant or type alias its ``#:`` comment as its docstring (the Sphinx habit the
    package follows for them)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)
        elif obj.is_attribute and obj.lineno is not None:
            comment = doc_comment(obj.module.lines, obj.lineno)
            if comment is not None:
                obj.docstring = griffe.Docstring(
                    markdown_docstring(comment), lineno=obj.lineno, parent=obj
                )
