"""Row stores: the memory and SQLite ledgers share one implementation of the spend rules.

A :class:`RowLedger` performs each step over :class:`Rows` (scope records and holds) inside one
atomic step of its store: a lock in memory, one ``BEGIN IMMEDIATE`` transaction in SQLite.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

from ..._errors import ReservationError
from ._base import (
    Expired,
    Hold,
    Ledger,
    Limit,
    Overspend,
    ReserveOutcome,
    ScopeRecord,
    SettleOutcome,
)
from ._owner import owner_alive

__all__ = ["Clock", "Locked", "RowLedger", "Rows", "iter_prefixed"]


class Rows(ABC):
    """Storage of scope records and holds, used inside one atomic step (a lock or a transaction)."""

    @abstractmethod
    def get_scope(self, scope: str) -> ScopeRecord | None: ...

    @abstractmethod
    def put_scope(self, record: ScopeRecord) -> None: ...

    @abstractmethod
    def get_hold(self, hold_id: str) -> Hold | None: ...

    @abstractmethod
    def put_hold(self, hold: Hold) -> None: ...

    @abstractmethod
    def expired_holds(self, now: float) -> list[Hold]: ...

    @abstractmethod
    def delete_before(self, now: float) -> None:
        """Delete scopes and settled holds whose retention ended before ``now``."""


class RowLedger(Ledger):
    """A ledger over :class:`Rows`; subclasses provide ``_step`` (one atomic step) and ``_now``."""

    @abstractmethod
    def _step(self) -> AbstractContextManager[Rows]: ...

    @abstractmethod
    def _now(self) -> float: ...

    #: Whether the store is on one host, where an owner process can be seen running.
    sees_owners: bool = True

    @staticmethod
    def _release(rows: Rows, hold: Hold, now: float) -> None:
        """Give a hold's tokens back to each of its scopes."""
        for scope in hold.scopes:
            record = rows.get_scope(scope)
            if record is not None:
                record.reserved = max(0, record.reserved - hold.tokens)
                record.updated = now
                rows.put_scope(record)

    def _reclaim(self, rows: Rows, now: float) -> tuple[Expired, ...]:
        out = []
        for hold in rows.expired_holds(now):
            if self.sees_owners and owner_alive(hold.owner):
                rows.put_hold(hold)  # still held: back where the next step looks again
                continue  # its heartbeat is late, not gone: a live holder keeps its tokens
            self._release(rows, hold, now)
            rows.put_hold(replace(hold, state="expired", expires=now + hold.retention_s))
            out.append(Expired(hold.id, hold.tokens, hold.scopes))
        return tuple(out)

    def reserve(
        self,
        reservation_id: str,
        tokens: int,
        limits: Sequence[Limit],
        lease_s: float,
        owner: str | None = None,
    ) -> ReserveOutcome:
        with self._step() as rows:
            now = self._now()
            expired = self._reclaim(rows, now)
            if rows.get_hold(reservation_id) is not None:
                return ReserveOutcome(ok=True, expired=expired)  # a replay: held already
            records = []
            for limit in limits:
                record = rows.get_scope(limit.scope) or ScopeRecord(limit.scope, created=now)
                record.cap = limit.cap
                if limit.cap is not None and record.used + record.reserved + tokens > limit.cap:
                    newly = not record.exhausted and limit.cap - record.used < tokens
                    if newly:
                        record.exhausted = True
                        record.updated = now
                        record.expires = max(record.expires, now + limit.retention_s)
                        rows.put_scope(record)
                    return ReserveOutcome(
                        ok=False, refused=record, expired=expired, exhausted=newly
                    )
                records.append((record, limit))
            for record, limit in records:
                record.reserved += tokens
                record.updated = now
                record.expires = now + limit.retention_s
                rows.put_scope(record)
            retention = max((limit.retention_s for limit in limits), default=0.0)
            rows.put_hold(
                Hold(
                    reservation_id,
                    tokens,
                    tuple(limit.scope for limit in limits),
                    "active",
                    now,
                    now + lease_s,
                    retention,
                    owner,
                )
            )
            return ReserveOutcome(ok=True, expired=expired)

    def renew(self, reservation_id: str, lease_s: float) -> bool:
        with self._step() as rows:
            now = self._now()
            hold = self._open_hold(rows, reservation_id, "renew")
            if hold.state != "active":
                return False
            until = max(hold.expires, now + lease_s)
            rows.put_hold(replace(hold, expires=until))
            for scope in hold.scopes:  # the scopes it holds tokens in outlive the lease
                record = rows.get_scope(scope)
                if record is not None and record.expires < until:
                    record.expires = until
                    rows.put_scope(record)
            return True

    @staticmethod
    def _open_hold(rows: Rows, reservation_id: str, what: str) -> Hold:
        """The hold, if it can still be settled (active, or expired for a commit)."""
        hold = rows.get_hold(reservation_id)
        if hold is None or hold.state in ("committed", "rolled_back"):
            state = hold.state if hold is not None else "unknown"
            raise ReservationError(
                f"cannot {what}: it is {state.replace('_', ' ')}",
                reservation_id=reservation_id,
                state=state,
            )
        return hold

    def commit(
        self,
        reservation_id: str,
        input_tokens: int,
        output_tokens: int,
        cost: float | None,
        soft_ratio: float,
        *,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> SettleOutcome:
        with self._step() as rows:
            now = self._now()
            # Settle this hold before reclaiming others: a hold past its lease that nobody
            # reclaimed yet was still held, so its commit is not late.
            hold = self._open_hold(rows, reservation_id, "commit")
            lapsed = hold.state == "expired"
            usage = _Usage(
                input_tokens,
                output_tokens,
                cost,
                soft_ratio,
                now,
                cached_input_tokens,
                cache_write_tokens,
            )
            cause = "lease_lost" if lapsed else "over_reservation"
            for scope in hold.scopes:
                record = rows.get_scope(scope) or ScopeRecord(scope, created=now)
                record.expires = max(record.expires, now + hold.retention_s)
                usage.spend(rows, record, released=0 if lapsed else hold.tokens, cause=cause)
            rows.put_hold(replace(hold, state="committed", expires=now + hold.retention_s))
            expired = self._reclaim(rows, now)
            return usage.outcome(lapsed, expired)

    def rollback(self, reservation_id: str) -> None:
        with self._step() as rows:
            now = self._now()
            hold = self._open_hold(rows, reservation_id, "roll back")
            if hold.state == "active":
                self._release(rows, hold, now)
            rows.put_hold(replace(hold, state="rolled_back", expires=now + hold.retention_s))
            self._reclaim(rows, now)

    def record(
        self,
        limits: Sequence[Limit],
        input_tokens: int,
        output_tokens: int,
        cost: float | None,
        soft_ratio: float,
        *,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> SettleOutcome:
        with self._step() as rows:
            now = self._now()
            expired = self._reclaim(rows, now)
            usage = _Usage(
                input_tokens,
                output_tokens,
                cost,
                soft_ratio,
                now,
                cached_input_tokens,
                cache_write_tokens,
            )
            for limit in limits:
                record = rows.get_scope(limit.scope) or ScopeRecord(limit.scope, created=now)
                record.cap = limit.cap
                record.expires = now + limit.retention_s
                usage.spend(rows, record, released=0, cause="unreserved")
            return usage.outcome(False, expired)

    def expire(self) -> tuple[Expired, ...]:
        with self._step() as rows:
            now = self._now()
            expired = self._reclaim(rows, now)
            rows.delete_before(now)
            return expired


@dataclass
class _Usage:
    """One call's usage, spent into each of its scopes within one step (``cost`` ``None``:
    unknown, counted in ``calls_unpriced``)."""

    input_tokens: int
    output_tokens: int
    cost: float | None
    soft_ratio: float
    now: float
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    warned: list[ScopeRecord] = field(default_factory=list)
    exhausted: list[ScopeRecord] = field(default_factory=list)
    overspent: list[Overspend] = field(default_factory=list)

    def spend(self, rows: Rows, record: ScopeRecord, *, released: int, cause: str) -> None:
        """Release ``released`` held tokens and add the usage to ``record``; note it once when
        it crosses the soft-warn line or cap, and whenever it pushes past the cap."""
        spent = self.input_tokens + self.output_tokens
        before = record.used + record.reserved
        record.reserved = max(0, record.reserved - released)
        record.used += spent
        record.calls += 1
        record.input_tokens += self.input_tokens
        record.output_tokens += self.output_tokens
        record.cached_input_tokens += self.cached_input_tokens
        record.cache_write_tokens += self.cache_write_tokens
        if self.cost is None:
            record.calls_unpriced += 1
        else:
            record.cost += self.cost
        record.updated = self.now
        if record.cap is not None:
            cap = record.cap
            over = max(0, record.used + record.reserved - cap) - max(0, before - cap)
            if over > 0:
                record.overspent += over
                record.overspends += 1
                self.overspent.append(Overspend(replace(record), over, spent, cause))
            if not record.warned and record.used >= self.soft_ratio * cap:
                record.warned = True
                self.warned.append(replace(record))
            if not record.exhausted and record.used >= cap:
                record.exhausted = True
                self.exhausted.append(replace(record))
        rows.put_scope(record)

    def outcome(self, lapsed: bool, expired: tuple[Expired, ...]) -> SettleOutcome:
        return SettleOutcome(
            tuple(self.warned), tuple(self.exhausted), lapsed, expired, tuple(self.overspent)
        )


class Locked(AbstractContextManager[Any]):
    """A reentrant-free lock as a context manager that yields a value (the in-memory rows)."""

    def __init__(self, lock: threading.Lock, value: Any) -> None:
        self._lock = lock
        self._value = value

    def __enter__(self) -> Any:
        self._lock.acquire()
        return self._value

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def iter_prefixed(names: Iterator[str] | list[str], prefix: str) -> list[str]:
    """Sorted names starting with ``prefix``."""
    return sorted(n for n in names if n.startswith(prefix))


Clock = Callable[[], float]
