"""The in-memory ledger: thread-safe, in one process, gone when the process ends."""

from __future__ import annotations

import threading
import time
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from ._base import Hold, ScopeRecord
from ._rows import Clock, Locked, RowLedger, Rows, iter_prefixed

__all__ = ["MemoryLedger"]


class _DictRows(Rows):
    def __init__(self) -> None:
        self.scopes: dict[str, ScopeRecord] = {}
        self.holds: dict[str, Hold] = {}

    def get_scope(self, scope: str) -> ScopeRecord | None:
        record = self.scopes.get(scope)
        return replace(record) if record is not None else None

    def put_scope(self, record: ScopeRecord) -> None:
        self.scopes[record.scope] = replace(record)

    def get_hold(self, hold_id: str) -> Hold | None:
        return self.holds.get(hold_id)

    def put_hold(self, hold: Hold) -> None:
        self.holds[hold.id] = hold

    def expired_holds(self, now: float) -> list[Hold]:
        return [h for h in self.holds.values() if h.state == "active" and h.expires <= now]

    def delete_before(self, now: float) -> None:
        for name in [n for n, r in self.scopes.items() if r.expires and r.expires < now]:
            del self.scopes[name]
        for hold_id in [
            i for i, h in self.holds.items() if h.state != "active" and h.expires < now
        ]:
            del self.holds[hold_id]


class MemoryLedger(RowLedger):
    """Spend kept in this process's memory (``memory://``), safe across threads.

    Args:
        clock: returns the current time in seconds (default ``time.time``); tests pass a fake.
    """

    schemes = ("memory",)

    def __init__(self, *, clock: Clock = time.time) -> None:
        self.url = "memory://"
        self._rows = _DictRows()
        self._lock = threading.Lock()
        self._clock = clock

    @classmethod
    def from_url(cls, url: str, **options: Any) -> MemoryLedger:
        """``memory://`` (nothing else in the URL is used)."""
        return cls(**options)

    def _step(self) -> AbstractContextManager[Rows]:
        return Locked(self._lock, self._rows)

    def _now(self) -> float:
        return self._clock()

    def status(self, scope: str) -> ScopeRecord | None:
        with self._lock:
            return self._rows.get_scope(scope)

    def scopes(self, prefix: str = "") -> list[str]:
        with self._lock:
            return iter_prefixed(list(self._rows.scopes), prefix)

    def reset(self, scope: str) -> bool:
        with self._lock:
            return self._rows.scopes.pop(scope, None) is not None
