"""Ledgers: where session-budget spend lives, chosen by URL scheme.

``ledger_from_url("memory://")``, ``ledger_from_url("sqlite:///spend.db")``,
``ledger_from_url("redis://localhost:6379/0")``. An unknown scheme is a
:class:`~ctxbudget.LedgerError` listing the known ones. The Redis ledger imports ``redis`` only
when it is first used.
"""

from ._base import Expired, Ledger, Limit, ScopeRecord, ledger_from_url, ledger_schemes
from ._memory import MemoryLedger
from ._sqlite import SQLiteLedger

__all__ = [
    "Expired",
    "Ledger",
    "Limit",
    "MemoryLedger",
    "SQLiteLedger",
    "ScopeRecord",
    "ledger_from_url",
    "ledger_schemes",
]
