"""Agent-loop tools: compaction of a growing conversation (running summary, archive of the
originals, budget indicator), the component budget manager, and adaptive allocation learned
from builds.
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
    from ._compaction import Compactor
    from ._manager import Allocation, BudgetManager
    from ._receipts import Compaction, CompactionStep

__all__ = [
    "Allocation",
    "BudgetManager",
    "Compaction",
    "CompactionStep",
    "Compactor",
    "SectionUsage",
    "UsageTracker",
    "adjust_allocations",
    "adjusted_preset_yaml",
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
    "._compaction": ("Compactor",),
    "._receipts": ("Compaction", "CompactionStep"),
    "._manager": ("Allocation", "BudgetManager"),
}
__getattr__, __dir__ = _lazy.attach(__name__, _EXPORTS, globals())
