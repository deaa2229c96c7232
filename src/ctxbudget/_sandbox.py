"""User templates, run safely: one sandboxed Jinja2 environment for every template ctxbudget
renders (the assembly template, a summarizer's prompt).

Templates run in Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` with
:class:`~jinja2.StrictUndefined`; values are passed as data, never as template source, so text
containing ``{{ ... }}`` is never evaluated.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from ._errors import TemplateError

__all__ = ["SandboxedTemplate"]

_env = SandboxedEnvironment(
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


@lru_cache(maxsize=64)
def _compile(source: str) -> jinja2.Template:
    """Compiled templates, shared: compiling costs more than a whole build's rendering."""
    return _env.from_string(source)


class SandboxedTemplate:
    """A compiled, sandboxed Jinja2 template.

    Args:
        source: template text, or a :class:`pathlib.Path` to a template file (UTF-8).

    Raises:
        TemplateError: the file cannot be read, or the template does not parse (with its line).
    """

    def __init__(self, source: str | Path) -> None:
        origin = "<template>"
        if isinstance(source, Path):
            origin = str(source)
            try:
                source = source.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TemplateError(f"cannot read template file {origin!r}: {exc}") from exc
        self.source = source
        self.origin = origin
        try:
            self._template = _compile(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{origin}: {exc.message}", line=exc.lineno) from exc

    def render(self, **values: Any) -> str:
        """The template rendered with ``values`` as its variables.

        Raises:
            TemplateError: the template fails while rendering (undefined name, unsafe access).
        """
        try:
            return self._template.render(**values)
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            raise TemplateError(f"rendering failed: {exc}", line=line) from exc
