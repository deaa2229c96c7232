"""Agent-loop tools: compaction of a growing conversation (running summary, archive of the
originals, budget indicator), the component budget manager, per-component cleanup pipelines
(``docs/cleanup.md``), and adaptive allocation learned from builds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy

if TYPE_CHECKING:
    from ._adaptive import (
        SectionUsage,
        UsageTracker,
        adjust_allocations,
        adjusted_preset_yaml,
        utilization_band,
        utilization_report,
    )
    from ._cleanup import (
        CleanupAction,
        CleanupContext,
        CleanupPipeline,
        CleanupResult,
        CleanupStep,
        archived_items,
    )
    from ._cleanup_registry import cleanup_pipeline, pipeline_from_spec, preset_pipelines
    from ._compaction import Compactor
    from ._component import ComponentMemory
    from ._manager import Allocation, BudgetManager
    from ._receipts import Compaction, CompactionStep

__all__ = [
    "Allocation",
    "BudgetManager",
    "CleanupAction",
    "CleanupContext",
    "CleanupPipeline",
    "CleanupResult",
    "CleanupStep",
    "Compaction",
    "CompactionStep",
    "Compactor",
    "ComponentMemory",
    "SectionUsage",
    "UsageTracker",
    "adjust_allocations",
    "adjusted_preset_yaml",
    "archived_items",
    "cleanup_pipeline",
    "pipeline_from_spec",
    "preset_pipelines",
    "utilization_band",
    "utilization_report",
]

#: Module -> the names it defines that this package re-exports, imported on first use.
_EXPORTS = {
    "._adaptive": (
        "SectionUsage",
        "UsageTracker",
        "adjust_allocations",
        "adjusted_preset_yaml",
        "utilization_band",
        "utilization_report",
    ),
    "._cleanup": (
        "CleanupAction",
        "CleanupContext",
        "CleanupPipeline",
        "CleanupResult",
        "CleanupStep",
        "archived_items",
    ),
    "._cleanup_registry": ("cleanup_pipeline", "pipeline_from_spec", "preset_pipelines"),
    "._compaction": ("Compactor",),
    "._component": ("ComponentMemory",),
    "._receipts": ("Compaction", "CompactionStep"),
    "._manager": ("Allocation", "BudgetManager"),
}
__getattr__, __dir__ = _lazy.attach(__name__, _EXPORTS, globals())
