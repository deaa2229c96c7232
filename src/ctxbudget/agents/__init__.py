"""Agent-loop tools: compaction of a growing conversation (running summary, archive of the
originals, budget indicator), the component budget manager with its utilization report and
target bands, per-component cleanup pipelines (``docs/cleanup.md``), adaptive allocation learned
from builds, and the predictive manager (``docs/component-budgets.md``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy

if TYPE_CHECKING:
    from ._adapt import AdaptiveBuilder
    from ._adaptive import (
        SectionUsage,
        UsageTracker,
        adjust_allocations,
        adjusted_preset_yaml,
        fair_shares,
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
    from ._manager import Allocation, BudgetManager, FreesTokens
    from ._predict import (
        DEFAULT_NEEDS,
        ComplexityWeights,
        ComponentError,
        PredictionErrorReport,
        PredictiveManager,
        Preparation,
        Task,
        complexity,
        complexity_score,
    )
    from ._receipts import Compaction, CompactionStep
    from ._targets import (
        DEFAULT_TARGETS,
        OVERALL_TARGET,
        ComponentUtilization,
        TargetBand,
        UtilizationReport,
    )

__all__ = [
    "DEFAULT_NEEDS",
    "DEFAULT_TARGETS",
    "OVERALL_TARGET",
    "AdaptiveBuilder",
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
    "ComplexityWeights",
    "ComponentError",
    "ComponentMemory",
    "ComponentUtilization",
    "FreesTokens",
    "PredictionErrorReport",
    "PredictiveManager",
    "Preparation",
    "SectionUsage",
    "TargetBand",
    "Task",
    "UsageTracker",
    "UtilizationReport",
    "adjust_allocations",
    "adjusted_preset_yaml",
    "archived_items",
    "cleanup_pipeline",
    "complexity",
    "complexity_score",
    "fair_shares",
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
        "fair_shares",
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
    "._manager": ("Allocation", "BudgetManager", "FreesTokens"),
    "._adapt": ("AdaptiveBuilder",),
    "._targets": (
        "DEFAULT_TARGETS",
        "OVERALL_TARGET",
        "ComponentUtilization",
        "TargetBand",
        "UtilizationReport",
    ),
    "._predict": (
        "DEFAULT_NEEDS",
        "ComplexityWeights",
        "ComponentError",
        "PredictionErrorReport",
        "PredictiveManager",
        "Preparation",
        "Task",
        "complexity",
        "complexity_score",
    ),
}
__getattr__, __dir__ = _lazy.attach(__name__, _EXPORTS, globals())
