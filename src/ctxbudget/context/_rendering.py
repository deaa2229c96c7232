"""Assembly: rendering kept sections through the sandboxed template, and what its frame costs.

A template receives ``sections``: a list, highest priority first, of objects with ``name``,
``title``, ``body`` (the kept text), ``weight`` and ``required``. It does not receive counts or
statuses, so the layout is the same whether or not anything was trimmed. Section text is data:
memory containing ``{{ ... }}`` appears verbatim (see :mod:`ctxbudget._sandbox`).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._sandbox import SandboxedTemplate

__all__ = ["DEFAULT_TEMPLATE", "Layout", "SectionView", "Template", "frame_of", "measure_frame"]

#: A ``## Title`` header line over each section, a blank line between sections.
DEFAULT_TEMPLATE = (
    "{% for section in sections %}{% if not loop.first %}\n\n{% endif %}"
    "## {{ section.title }}\n{{ section.body }}{% endfor %}"
)

#: ``(name, title, weight, required)`` of each present section, highest priority first.
Layout = tuple[tuple[str, str, float, bool], ...]

#: Frames measured in this process, by (template source, tokenizer name, layout).
_FRAMES: OrderedDict[tuple[str, str, Layout], tuple[int, tuple[int, ...]]] = OrderedDict()
_FRAMES_KEPT = 512
_frames_lock = threading.Lock()

#: Body of each section when measuring what the template adds around it.
_PLACEHOLDER = "x"


@dataclass(frozen=True)
class SectionView:
    """What a template sees of one section."""

    name: str
    title: str
    body: str
    weight: float
    required: bool


class Template:
    """A compiled assembly template.

    Args:
        source: Jinja2 template text, or a :class:`pathlib.Path` to a template file;
            ``None`` for :data:`DEFAULT_TEMPLATE`.

    Raises:
        TemplateError: the file cannot be read, or the template does not parse (with its line).
    """

    def __init__(self, source: str | Path | None = None) -> None:
        self._template = SandboxedTemplate(DEFAULT_TEMPLATE if source is None else source)
        self.source = self._template.source

    def render(self, sections: list[SectionView]) -> str:
        """The assembled text of ``sections`` (highest priority first).

        Raises:
            TemplateError: the template fails while rendering (undefined name, unsafe access).
        """
        return self._template.render(sections=sections)


def measure_frame(
    template: Template,
    layout: Sequence[tuple[str, str, float, bool]],
    count: Callable[[str], int],
) -> tuple[int, list[int]]:
    """Tokens of the template's own text, and each section's header cost, for a layout.

    Args:
        template: the assembly template.
        layout: ``(name, title, weight, required)`` of each present section, highest priority
            first.
        count: counts tokens (through the build's cache).

    Returns:
        ``(base, headers)``: tokens the template renders with no section, and per section the
        tokens its header and separators add, in tokens.

    Sections are rendered with a one-letter placeholder body, not an empty one: an empty body
    would let the header's newline merge with the separator after it (``"\\n\\n\\n"`` is one
    o200k token) and hide what separators cost next to real text. What the sections together
    cost beyond the sum of their costs alone (separators between them) is spread evenly over
    all of them, rounding up; the verify step absorbs the rest.
    """

    def views(entries: Sequence[tuple[str, str, float, bool]]) -> list[SectionView]:
        return [SectionView(n, t, _PLACEHOLDER, w, r) for n, t, w, r in entries]

    base = count(template.render([]))
    body = count(_PLACEHOLDER)
    alone = [count(template.render(views([entry]))) - base - body for entry in layout]
    together = count(template.render(views(layout))) - base - body * len(layout) if layout else 0
    extra = max(0, together - sum(alone))
    per = math.ceil(extra / len(layout)) if layout else 0
    return base, [max(0, a) + per for a in alone]


def frame_of(
    template: Template, layout: Layout, tokenizer: str, count: Callable[[str], int]
) -> tuple[int, tuple[int, ...]]:
    """:func:`measure_frame` of ``layout``, measured once per process for each template
    source and tokenizer name (a pure function of the three), least recently used evicted.

    Returns:
        ``(base, headers)`` in tokens, as :func:`measure_frame`.
    """
    key = (template.source, tokenizer, layout)
    with _frames_lock:
        known = _FRAMES.get(key)
        if known is not None:
            _FRAMES.move_to_end(key)
            return known
    base, headers = measure_frame(template, layout, count)
    known = (base, tuple(headers))
    with _frames_lock:
        _FRAMES[key] = known
        while len(_FRAMES) > _FRAMES_KEPT:
            _FRAMES.popitem(last=False)
    return known
