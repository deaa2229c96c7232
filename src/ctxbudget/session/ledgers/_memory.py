"""The in-memory ledger: thread-safe, in one process, gone when the process ends."""

from __future__ import annotations

import heapq
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._base import Hold, ScopeRecord
from ._rows import Clock, RowLedger, Rows, iter_prefixed
from ._spend import snapshot

T = TypeVar("T")

__all__ = ["MemoryLedger"]


#: Settled reservations remembered (to refuse a second settlement by name); older ones are
#: forgotten first, and a settlement naming one then reads as "unknown".
SETTLED_KEPT = 100_000


class _DictRows(Rows):
    """Scopes in a dict; active holds in a dict with a heap by lease end (stale heap entries
    are skipped), so a step finds expired leases in O(log n), never by scanning; settled
    holds in a bounded LRU.

    Records and holds are handed out live, never copied: the ledger's steps change them only
    after every check that can refuse or raise, under the ledger's lock.
    """

    def __init__(self) -> None:
        self.scopes: dict[str, ScopeRecord] = {}
        self.active: dict[str, Hold] = {}
        self.settled: OrderedDict[str, Hold] = OrderedDict()
        self._leases: list[tuple[float, str]] = []

    def get_scopes(self, names: Sequence[str]) -> list[ScopeRecord | None]:
        return list(map(self.scopes.get, names))

    def put_scopes(self, records: Sequence[ScopeRecord]) -> None:
        scopes = self.scopes
        for record in records:
            scopes[record.scope] = record

    def get_hold(self, hold_id: str) -> Hold | None:
        hold = self.active.get(hold_id)
        return hold if hold is not None else self.settled.get(hold_id)

    def put_hold(self, hold: Hold) -> None:
        """Keep ``hold``; an active one gets a heap entry at its lease end (the ledger puts an
        active hold only when that end is new: reserved, renewed further, or put back)."""
        if hold.state == "active":
            self.active[hold.id] = hold
            heapq.heappush(self._leases, (hold.expires, hold.id))
            return
        active = self.active
        active.pop(hold.id, None)
        if len(self._leases) > 2 * len(active) + 1024:  # mostly settled: rebuild
            self._leases = [(h.expires, h.id) for h in active.values()]
            heapq.heapify(self._leases)
        settled = self.settled
        settled[hold.id] = hold
        settled.move_to_end(hold.id)
        if len(settled) > SETTLED_KEPT:
            settled.popitem(last=False)

    def expired_holds(self, now: float) -> Sequence[Hold]:
        """Active holds whose lease ended, taken off the heap (a hold put back, e.g. one
        whose owner is still running, is pushed again)."""
        leases = self._leases
        if not leases or leases[0][0] > now:
            return ()
        out: dict[str, Hold] = {}  # by id: a hold is returned once, whatever the heap holds
        while leases and leases[0][0] <= now:
            expires, hold_id = heapq.heappop(leases)
            hold = self.active.get(hold_id)
            if hold is not None and hold.expires == expires:
                out[hold_id] = hold
        return list(out.values())

    def delete_before(self, now: float) -> None:
        for name in [n for n, r in self.scopes.items() if r.expires and r.expires < now]:
            del self.scopes[name]
        for hold_id in [i for i, h in self.settled.items() if h.expires < now]:
            del self.settled[hold_id]


class MemoryLedger(RowLedger):
    """Spend kept in this process's memory (``memory://``), safe across threads.

    Every step costs O(log n) in the open reservations, never a scan. The last 100,000
    settled reservations are remembered, so a second commit or rollback of one is refused by
    state; an older one reads as ``"unknown"``.

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

    def _run(self, step: Callable[[Rows], T]) -> T:
        with self._lock:
            return step(self._rows)

    async def astep(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run the step ``name`` on the loop itself: a memory step never waits for I/O, only
        for this ledger's lock, held for microseconds by each step (a worker thread would cost
        more than the step)."""
        return getattr(self, name)(*args, **kwargs)

    def _now(self) -> float:
        return self._clock()

    def status(self, scope: str) -> ScopeRecord | None:
        with self._lock:
            record = self._rows.scopes.get(scope)
            return snapshot(record) if record is not None else None

    def scopes(self, prefix: str = "") -> list[str]:
        with self._lock:
            return iter_prefixed(list(self._rows.scopes), prefix)

    def reset(self, scope: str) -> bool:
        with self._lock:
            return self._rows.scopes.pop(scope, None) is not None
