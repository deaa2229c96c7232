"""Agent-loop tools: compaction of a growing conversation (running summary, archive of the
originals, budget indicator), the component budget manager, and adaptive allocation learned
from builds.
"""

from ._adaptive import (
    SectionUsage,
    UsageTracker,
    adjust_allocations,
    adjusted_preset_yaml,
    utilization_band,
    utilization_report,
)
from ._compaction import Compaction, Compactor
from ._manager import Allocation, BudgetManager

__all__ = [
    "Allocation",
    "BudgetManager",
    "Compaction",
    "Compactor",
    "SectionUsage",
    "UsageTracker",
    "adjust_allocations",
    "adjusted_preset_yaml",
    "utilization_band",
    "utilization_report",
]
