"""Assembly: rendering kept sections through a sandboxed Jinja2 template.

Section text is passed to the template as data, never as template source, so memory that
contains ``{{ ... }}`` or ``{% ... %}`` appears verbatim and is never evaluated. Templates run in
Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` with :class:`~jinja2.StrictUndefined`.

A template receives ``sections``: a list, highest priority first, of objects with ``name``,
``title``, ``body`` (the kept text), ``weight`` and ``required``. It does not receive counts or
statuses, so the layout is the same whether or not anything was trimmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from ._errors import TemplateError

__all__ = ["DEFAULT_TEMPLATE", "SectionView", "Template"]

#: A ``## Title`` header line over each section, a blank line between sections.
DEFAULT_TEMPLATE = (
    "{% for section in sections %}{% if not loop.first %}\n\n{% endif %}"
    "## {{ section.title }}\n{{ section.body }}{% endfor %}"
)

_env = SandboxedEnvironment(
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class SectionView:
    """What a template sees of one section."""

    name: str
    title: str
    body: str
    weight: float
    required: bool


@lru_cache(maxsize=64)
def _compile(source: str) -> jinja2.Template:
    """Compiled templates, shared: compiling costs more than a whole build's rendering."""
    return _env.from_string(source)


class Template:
    """A compiled assembly template.

    Args:
        source: Jinja2 template text, or a :class:`pathlib.Path` to a template file;
            ``None`` for :data:`DEFAULT_TEMPLATE`.

    Raises:
        TemplateError: the file cannot be read, or the template does not parse (with its line).
    """

    def __init__(self, source: str | Path | None = None) -> None:
        if source is None:
            source = DEFAULT_TEMPLATE
        origin = "<template>"
        if isinstance(source, Path):
            origin = str(source)
            try:
                source = source.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TemplateError(f"cannot read template file {origin!r}: {exc}") from exc
        self.source = source
        try:
            self._template = _compile(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{origin}: {exc.message}", line=exc.lineno) from exc

    def render(self, sections: list[SectionView]) -> str:
        """The assembled text of ``sections`` (highest priority first).

        Raises:
            TemplateError: the template fails while rendering (undefined name, unsafe access).
        """
        try:
            return self._template.render(sections=sections)
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            raise TemplateError(f"rendering failed: {exc}", line=line) from exc
