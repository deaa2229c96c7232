"""Session budgets: cumulative token spend per session, user, conversation and globally, held
by atomic reservations in a ledger (memory, SQLite, PostgreSQL, Redis), with soft warnings,
hard caps, quotas, rate limits, nested budgets, an async API, ``guard`` around LLM calls,
``usage_of`` (every provider's usage shape, cached input apart), cost from the model
catalogue, and the summarization trigger.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy

if TYPE_CHECKING:
    from ._async import AsyncReservation
    from ._budget import SessionBudget
    from ._calibration import CalibratedTokenizer, Calibration
    from ._child import ChildBudget
    from ._guard import aguard, guard
    from ._pricing import DEFAULT_PRICES, estimate_cost
    from ._reservation import Reservation
    from ._settings import BudgetSettings
    from ._usage import Usage, usage_of
    from ._values import (
        MAX_TOKENS,
        SYSTEM_SESSION,
        BudgetEvent,
        BudgetStatus,
        EventName,
        Quota,
        State,
    )
    from ._window import ContextWindow, Forecast
    from .ledgers import Ledger, ledger_from_url

__all__ = [
    "DEFAULT_PRICES",
    "MAX_TOKENS",
    "SYSTEM_SESSION",
    "AsyncReservation",
    "BudgetEvent",
    "BudgetSettings",
    "BudgetStatus",
    "CalibratedTokenizer",
    "Calibration",
    "ChildBudget",
    "ContextWindow",
    "EventName",
    "Forecast",
    "Ledger",
    "Quota",
    "Reservation",
    "SessionBudget",
    "State",
    "Usage",
    "aguard",
    "estimate_cost",
    "guard",
    "ledger_from_url",
    "usage_of",
]

#: Module -> the names it defines that this package re-exports, imported on first use.
_EXPORTS = {
    "._async": ("AsyncReservation",),
    "._budget": ("SessionBudget",),
    "._calibration": ("CalibratedTokenizer", "Calibration"),
    "._child": ("ChildBudget",),
    "._guard": ("aguard", "guard"),
    "._pricing": ("DEFAULT_PRICES", "estimate_cost"),
    "._reservation": ("Reservation",),
    "._settings": ("BudgetSettings",),
    "._usage": ("Usage", "usage_of"),
    "._values": (
        "MAX_TOKENS",
        "SYSTEM_SESSION",
        "BudgetEvent",
        "BudgetStatus",
        "EventName",
        "Quota",
        "State",
    ),
    "._window": ("ContextWindow", "Forecast"),
    ".ledgers": ("Ledger", "ledger_from_url"),
}
__getattr__, __dir__ = _lazy.attach(__name__, _EXPORTS, globals())
