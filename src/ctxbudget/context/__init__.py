"""Context assembly: sections gathered, measured, allocated by priority weight, trimmed,
rendered and verified within a hard token cap.

The pipeline (``docs/architecture.md``): gather (:mod:`._builder`) -> measure (:mod:`._measure`,
items from :mod:`._items`) -> allocate (:mod:`._allocation`, :mod:`._plan`) -> reduce and trim
(:mod:`._plan`, :mod:`._trimming`) -> render (:mod:`._rendering`) -> verify (:mod:`._trimming`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy

if TYPE_CHECKING:
    from ._allocation import Strategy, allocate, priority_order
    from ._builder import ContextBuilder, build_context
    from ._files import load_sections
    from ._indicator import INDICATOR, budget_indicator
    from ._measure import Cut, MeasuredSection
    from ._options import Keep, SectionOptions, Split
    from ._presets import Preset, SectionSpec, list_presets, load_preset
    from ._rendering import DEFAULT_TEMPLATE, SectionView, Template
    from ._result import BuiltContext, SectionReport, Status
    from ._sections import Section, default_title

__all__ = [
    "DEFAULT_TEMPLATE",
    "INDICATOR",
    "BuiltContext",
    "ContextBuilder",
    "Cut",
    "Keep",
    "MeasuredSection",
    "Preset",
    "Section",
    "SectionOptions",
    "SectionReport",
    "SectionSpec",
    "SectionView",
    "Split",
    "Status",
    "Strategy",
    "Template",
    "allocate",
    "budget_indicator",
    "build_context",
    "default_title",
    "list_presets",
    "load_preset",
    "load_sections",
    "priority_order",
]

#: Module -> the names it defines that this package re-exports, imported on first use.
_EXPORTS = {
    "._allocation": ("Strategy", "allocate", "priority_order"),
    "._builder": ("ContextBuilder", "build_context"),
    "._files": ("load_sections",),
    "._indicator": ("INDICATOR", "budget_indicator"),
    "._measure": ("Cut", "MeasuredSection"),
    "._options": ("Keep", "SectionOptions", "Split"),
    "._presets": ("Preset", "SectionSpec", "list_presets", "load_preset"),
    "._rendering": ("DEFAULT_TEMPLATE", "SectionView", "Template"),
    "._result": ("BuiltContext", "SectionReport", "Status"),
    "._sections": ("Section", "default_title"),
}
__getattr__, __dir__ = _lazy.attach(__name__, _EXPORTS, globals())
