"""Ledgers: where session-budget spend lives, chosen by URL scheme.

``ledger_from_url("memory://")``, ``ledger_from_url("sqlite:///spend.db")``,
``ledger_from_url("redis://localhost:6379/0")``, ``ledger_from_url("postgresql://host/db")``.
An unknown scheme is a :class:`~ctxbudget.LedgerError` listing the known ones. The Redis and
PostgreSQL ledgers import their drivers (``redis``, ``psycopg``) only when first used.

To write a ledger of your own, subclass :class:`Ledger` (declare ``schemes`` and implement each
step atomically in your store) or, for a store of rows with transactions, :class:`RowLedger`
over your :class:`Rows`; the records a step reads and returns are :class:`ScopeRecord`,
:class:`Limit`, :class:`Hold`, :class:`ReserveOutcome`, :class:`SettleOutcome` and
:class:`Expired`.
"""

from . import _postgres  # noqa: F401 - defining PostgresLedger registers postgresql://
from ._base import (
    Expired,
    Hold,
    Ledger,
    Limit,
    ReserveOutcome,
    ScopeRecord,
    SettleOutcome,
)
from ._memory import MemoryLedger
from ._registry import ledger_from_url, ledger_schemes
from ._rows import Clock, RowLedger, Rows
from ._sqlite import SQLiteLedger

__all__ = [
    "Clock",
    "Expired",
    "Hold",
    "Ledger",
    "Limit",
    "MemoryLedger",
    "ReserveOutcome",
    "RowLedger",
    "Rows",
    "SQLiteLedger",
    "ScopeRecord",
    "SettleOutcome",
    "ledger_from_url",
    "ledger_schemes",
]
