"""User templates, run safely: one sandboxed Jinja2 environment for every template ctxbudget
renders (the assembly template, a summarizer's prompt).

Templates run in Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment` with
:class:`~jinja2.StrictUndefined`; values are passed as data, never as template source, so text
containing ``{{ ... }}`` is never evaluated. On top of the sandbox's own rules:

- a template cannot ``include``, ``import`` or ``extend`` another (there is no loader);
- work is bounded, so a hostile or mistaken template fails fast instead of hanging:
  ``range()`` yields at most :data:`MAX_RANGE_ITEMS` items in one render (all calls together,
  so nested loops count too); repeating a string or list with ``*`` may not produce more than
  :data:`MAX_OUTPUT_CHARS` items; ``**`` may not produce an integer of more than
  :data:`MAX_POWER_BITS` bits; the rendered output may not exceed :data:`MAX_OUTPUT_CHARS`
  characters;
- every failure while rendering (an undefined name, ``{{ 1/0 }}``, a ``%``-format error, too
  deep a recursion, a limit above) is a :class:`~ctxbudget.TemplateError` naming the template
  line, never a raw traceback.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from ._errors import TemplateError

__all__ = ["MAX_OUTPUT_CHARS", "MAX_POWER_BITS", "MAX_RANGE_ITEMS", "SandboxedTemplate"]

#: Most characters one render may produce (and most items one ``*`` repetition may make).
MAX_OUTPUT_CHARS = 100_000_000
#: Most items ``range()`` may yield in one render, all calls together.
MAX_RANGE_ITEMS = 1_000_000
#: Largest integer ``**`` may produce, in bits.
MAX_POWER_BITS = 4096

_TEMPLATE_FILE = "<template>"


class _Limit(Exception):
    """A bound of this module was reached while rendering."""


class _Environment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, (str, list, tuple, bytes))
                    and isinstance(times, int)
                    and len(seq) * max(times, 0) > MAX_OUTPUT_CHARS
                ):
                    raise _Limit(
                        f"repeating {len(seq):,} items {times:,} times is more than "
                        f"{MAX_OUTPUT_CHARS:,}"
                    )
        elif (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and abs(left) > 1
            and right * math.log2(abs(left)) > MAX_POWER_BITS
        ):
            raise _Limit(f"{left} ** {right} has more than {MAX_POWER_BITS} bits")
        return super().call_binop(context, operator, left, right)


_env = _Environment(
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


class _BoundedRange:
    """``range`` whose calls in one render yield at most :data:`MAX_RANGE_ITEMS` together."""

    def __init__(self) -> None:
        self.left = MAX_RANGE_ITEMS

    def __call__(self, *args: int) -> range:
        items = range(*args)
        self.left -= len(items)
        if self.left < 0:
            raise _Limit(f"range() would yield more than {MAX_RANGE_ITEMS:,} items in one render")
        return items


@lru_cache(maxsize=64)
def _compile(source: str) -> jinja2.Template:
    """Compiled templates, shared: compiling costs more than a whole build's rendering."""
    tree = _env.parse(source)
    for node in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        raise jinja2.TemplateSyntaxError(
            "a template cannot include, import or extend other templates: put everything in "
            "one template",
            node.lineno,
        )
    return _env.from_string(tree)


def _template_line(tb: TracebackType | None) -> int | None:
    """The template line of the innermost template frame of a traceback (Jinja2 maps its
    compiled code back to template lines)."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class SandboxedTemplate:
    """A compiled, sandboxed Jinja2 template.

    Args:
        source: template text, or a :class:`pathlib.Path` to a template file (UTF-8).

    Raises:
        TemplateError: the file cannot be read, the template does not parse, or it includes,
            imports or extends another template (with its line).
    """

    def __init__(self, source: str | Path) -> None:
        origin = _TEMPLATE_FILE
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
            TemplateError: rendering fails for any reason (an undefined name, unsafe access, an
                error in an expression, a bound of this module), with the template line.
        """
        try:
            return _joined(self._template.generate(range=_BoundedRange(), **values))
        except TemplateError:
            raise
        except RecursionError as exc:
            raise TemplateError(
                f"{self.origin}: rendering failed: recursion too deep", line=None
            ) from exc
        except Exception as exc:  # the template is user code: every failure is reported
            line = getattr(exc, "lineno", None) or _template_line(exc.__traceback__)
            kind = (
                "" if isinstance(exc, (jinja2.TemplateError, _Limit)) else f"{type(exc).__name__}: "
            )
            raise TemplateError(f"{self.origin}: rendering failed: {kind}{exc}", line=line) from exc


def _joined(chunks: Iterator[str]) -> str:
    parts = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise _Limit(f"the output would exceed {MAX_OUTPUT_CHARS:,} characters")
        parts.append(chunk)
    return "".join(parts)
