"""Row stores: the memory and SQLite ledgers share one implementation of the spend rules.

A :class:`RowLedger` performs each step over :class:`Rows` (scope records and holds) inside one
atomic step of its store (:meth:`RowLedger._run`): a lock in memory, one ``BEGIN IMMEDIATE``
transaction in SQLite. A step reads every scope it touches in one call and writes them back in
one call. Every check that can refuse or raise comes before the first change, so a step that
raises leaves nothing half-applied even in a store that hands out its live records (memory);
a transactional store rolls back whatever a failing step wrote.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from ..._errors import ReservationError
from ._base import (
    Expired,
    Hold,
    Ledger,
    Limit,
    ReserveOutcome,
    ScopeRecord,
    SettleOutcome,
)
from ._owner import owner_alive
from ._spend import Usage, held, settled, snapshot, spend, with_expired

__all__ = ["Clock", "RowLedger", "Rows", "iter_prefixed"]

T = TypeVar("T")
Clock = Callable[[], float]

_SETTLED_STATES = ("committed", "rolled_back", "charged")


class Rows(ABC):
    """Storage of scope records and holds, used inside one atomic step of its ledger.

    Records and holds returned may be the store's own (memory) or fresh copies (SQL): a step
    changes them only after its checks, then puts them back.
    """

    @abstractmethod
    def get_scopes(self, names: Sequence[str]) -> list[ScopeRecord | None]:
        """The record of each name, in order (``None``: no record kept)."""

    @abstractmethod
    def put_scopes(self, records: Sequence[ScopeRecord]) -> None:
        """Store ``records`` (inserted or replaced whole)."""

    @abstractmethod
    def get_hold(self, hold_id: str) -> Hold | None: ...

    @abstractmethod
    def put_hold(self, hold: Hold) -> None:
        """Store ``hold``; an active one is looked at again by :meth:`expired_holds` once its
        lease (``hold.expires``) ends."""

    @abstractmethod
    def expired_holds(self, now: float) -> Sequence[Hold]:
        """Active holds whose lease ended at or before ``now`` (Unix seconds)."""

    @abstractmethod
    def delete_before(self, now: float) -> None:
        """Delete scopes and settled holds whose retention ended before ``now``."""


class RowLedger(Ledger):
    """A ledger over :class:`Rows`; subclasses provide ``_run`` (one atomic step) and ``_now``."""

    @abstractmethod
    def _run(self, step: Callable[[Rows], T]) -> T:
        """Run ``step`` as one atomic step of the store and return what it returns; what it
        raises is raised and nothing it did is kept."""

    @abstractmethod
    def _now(self) -> float: ...

    #: Whether the store is on one host, where an owner process can be seen running.
    sees_owners: bool = True

    @staticmethod
    def _release(rows: Rows, hold: Hold, now: float) -> None:
        """Give a hold's tokens back to each of its scopes."""
        records = [r for r in rows.get_scopes(hold.scopes) if r is not None]
        for record in records:
            record.reserved = max(0, record.reserved - hold.tokens)
            record.updated = now
        rows.put_scopes(records)

    def _reclaim(self, rows: Rows, now: float) -> tuple[Expired, ...]:
        holds = rows.expired_holds(now)
        if not holds:
            return ()
        out = []
        for hold in holds:
            if self.sees_owners and owner_alive(hold.owner):
                rows.put_hold(hold)  # still held: back where the next step looks again
                continue  # its heartbeat is late, not gone: a live holder keeps its tokens
            self._release(rows, hold, now)
            hold.state, hold.expires = "expired", now + hold.retention_s
            rows.put_hold(hold)
            out.append(Expired(hold.id, hold.tokens, hold.scopes))
        return tuple(out)

    @staticmethod
    def _records(rows: Rows, names: Sequence[str], now: float) -> list[ScopeRecord]:
        found = rows.get_scopes(names)
        # ``all`` reads truth values (a record is always true) where ``None in found`` would
        # call the dataclass ``__eq__`` of every record
        if not all(found):  # new scopes: records of nothing spent yet
            found = [
                r if r is not None else ScopeRecord(n, created=now)
                for r, n in zip(found, names, strict=True)
            ]
        return found  # type: ignore[return-value]

    @staticmethod
    def _refusal(
        rows: Rows, records: list[ScopeRecord], limits: Sequence[Limit], tokens: int, now: float
    ) -> ReserveOutcome | None:
        """The refusal of holding ``tokens`` in ``records`` (marking a scope that its committed
        spend leaves no room exhausted, in this step), or ``None`` if every cap allows it."""
        for record, limit in zip(records, limits, strict=True):
            cap = limit.cap
            if cap is not None and record.used + record.reserved + tokens > cap:
                newly = not record.exhausted and cap - record.used < tokens
                if not newly:
                    refused = snapshot(record)
                    refused.cap = cap
                    return ReserveOutcome(ok=False, refused=refused)
                record.cap, record.exhausted, record.updated = cap, True, now
                record.expires = max(record.expires, now + limit.retention_s)
                rows.put_scopes([record])
                return ReserveOutcome(ok=False, refused=snapshot(record), exhausted=True)
        return None

    def reserve(
        self,
        reservation_id: str,
        tokens: int,
        limits: Sequence[Limit],
        lease_s: float,
        owner: str | None = None,
    ) -> ReserveOutcome:
        return self._run(
            lambda rows: self._reserve(
                rows, reservation_id, tokens, limits, lease_s=lease_s, owner=owner
            )
        )

    def _reserve(
        self,
        rows: Rows,
        reservation_id: str,
        tokens: int,
        limits: Sequence[Limit],
        *,
        lease_s: float,
        owner: str | None,
    ) -> ReserveOutcome:
        now = self._now()
        expired = self._reclaim(rows, now)
        if rows.get_hold(reservation_id) is not None:
            return held(expired)  # a replay: held already
        names = tuple([limit.scope for limit in limits])
        records = self._records(rows, names, now)
        refused = self._refusal(rows, records, limits, tokens, now)
        if refused is not None:
            return with_expired(refused, expired)
        retention = 0.0
        for record, limit in zip(records, limits, strict=True):
            keep = limit.retention_s
            record.cap = limit.cap
            record.reserved += tokens
            record.updated = now
            record.expires = now + keep
            retention = max(retention, keep)
        rows.put_scopes(records)
        rows.put_hold(
            Hold(reservation_id, tokens, names, "active", now, now + lease_s, retention, owner)
        )
        return held(expired)

    def renew(self, reservation_id: str, lease_s: float) -> bool:
        return self._run(lambda rows: self._renew(rows, reservation_id, lease_s))

    def _renew(self, rows: Rows, reservation_id: str, lease_s: float) -> bool:
        now = self._now()
        hold = self._open_hold(rows, reservation_id, "renew")
        if hold.state != "active":
            return False
        until = max(hold.expires, now + lease_s)
        # The scopes it holds tokens in outlive the lease.
        records = [r for r in rows.get_scopes(hold.scopes) if r is not None and r.expires < until]
        for record in records:
            record.expires = until
        if records:
            rows.put_scopes(records)
        if until != hold.expires:  # an unmoved lease end is left as it is
            hold.expires = until
            rows.put_hold(hold)
        return True

    @staticmethod
    def _open_hold(rows: Rows, reservation_id: str, what: str) -> Hold:
        """The hold, if it can still be settled (active, or expired for a commit)."""
        hold = rows.get_hold(reservation_id)
        if hold is None or hold.state in _SETTLED_STATES:
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
        usage = (input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost)
        return self._run(lambda rows: self._commit(rows, reservation_id, usage, soft_ratio))

    def _commit(
        self, rows: Rows, reservation_id: str, usage: Usage, soft_ratio: float
    ) -> SettleOutcome:
        now = self._now()
        # Settle this hold before reclaiming others: a hold past its lease that nobody
        # reclaimed yet was still held, so its commit is not late.
        hold = self._open_hold(rows, reservation_id, "commit")
        lapsed = hold.state == "expired"
        records = self._records(rows, hold.scopes, now)
        keep = now + hold.retention_s
        for record in records:
            record.expires = max(record.expires, keep)
        released = 0 if lapsed else hold.tokens
        cause = "lease_lost" if lapsed else "over_reservation"
        events = spend(records, usage, soft_ratio, now, released=released, cause=cause)
        rows.put_scopes(records)
        hold.state, hold.expires = "committed", keep
        rows.put_hold(hold)
        return settled(lapsed, self._reclaim(rows, now), events)

    def rollback(self, reservation_id: str) -> None:
        self._run(lambda rows: self._rollback(rows, reservation_id))

    def _rollback(self, rows: Rows, reservation_id: str) -> None:
        now = self._now()
        hold = self._open_hold(rows, reservation_id, "roll back")
        if hold.state == "active":
            self._release(rows, hold, now)
        hold.state, hold.expires = "rolled_back", now + hold.retention_s
        rows.put_hold(hold)
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
        usage = (input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost)
        return self._run(lambda rows: self._record(rows, limits, usage, soft_ratio))

    def _record(
        self, rows: Rows, limits: Sequence[Limit], usage: Usage, soft_ratio: float
    ) -> SettleOutcome:
        now = self._now()
        expired = self._reclaim(rows, now)
        records = self._records(rows, [limit.scope for limit in limits], now)
        for record, limit in zip(records, limits, strict=True):
            record.cap = limit.cap
            record.expires = now + limit.retention_s
        events = spend(records, usage, soft_ratio, now, released=0, cause="unreserved")
        rows.put_scopes(records)
        return settled(False, expired, events)

    def charge(
        self,
        reservation_id: str,
        limits: Sequence[Limit],
        input_tokens: int,
        output_tokens: int,
        *,
        cost: float | None,
        soft_ratio: float,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
        owner: str | None = None,
    ) -> tuple[ReserveOutcome, SettleOutcome | None]:
        """Spend usage known before the call in ONE atomic step (one transaction in SQLite).

        Refused exactly as :meth:`reserve` of ``input_tokens + output_tokens`` would refuse
        (nothing is recorded, except the mark of a scope found exhausted, as reserve marks it);
        else recorded exactly as :meth:`commit` records it after such a reserve. The
        reservation is kept as ``"charged"`` for the longest retention of ``limits``, so a
        replay with the same ``reservation_id`` records nothing more and returns ``ok`` with an
        empty settle outcome (what crossed a line was reported by the first). Token counts
        are in tokens, ``cost`` in US dollars (``None``: unknown).

        Returns:
            ``(reserve outcome, settle outcome)``; the settle outcome is ``None`` when refused.

        Raises:
            ReservationError: ``reservation_id`` names a reservation that was not charged.
            LedgerError: the store failed.
        """
        usage = (input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost)
        return self._run(
            lambda rows: self._charge(
                rows, reservation_id, limits, usage, soft_ratio=soft_ratio, owner=owner
            )
        )

    def _charge(
        self,
        rows: Rows,
        reservation_id: str,
        limits: Sequence[Limit],
        usage: Usage,
        *,
        soft_ratio: float,
        owner: str | None,
    ) -> tuple[ReserveOutcome, SettleOutcome | None]:
        now = self._now()
        expired = self._reclaim(rows, now)
        hold = rows.get_hold(reservation_id)
        if hold is not None:
            if hold.state != "charged":
                raise ReservationError(
                    f"cannot charge: it is a reservation ({hold.state.replace('_', ' ')})",
                    reservation_id=reservation_id,
                    state=hold.state,
                )
            return held(expired), settled(False, expired, None)
        tokens = usage[0] + usage[1]
        names = tuple([limit.scope for limit in limits])
        records = self._records(rows, names, now)
        refused = self._refusal(rows, records, limits, tokens, now)
        if refused is not None:
            return with_expired(refused, expired), None
        retention = max((limit.retention_s for limit in limits), default=0.0)
        for record, limit in zip(records, limits, strict=True):
            record.cap = limit.cap
            record.expires = now + retention  # as reserve then commit leave it
        # The check above leaves room for every token, so none is beyond a cap.
        events = spend(records, usage, soft_ratio, now, released=0, cause="over_reservation")
        rows.put_scopes(records)
        rows.put_hold(
            Hold(reservation_id, tokens, names, "charged", now, now + retention, retention, owner)
        )
        return held(expired), settled(False, expired, events)

    def expire(self) -> tuple[Expired, ...]:
        return self._run(self._expire)

    def _expire(self, rows: Rows) -> tuple[Expired, ...]:
        now = self._now()
        expired = self._reclaim(rows, now)
        rows.delete_before(now)
        return expired


def iter_prefixed(names: Iterator[str] | list[str], prefix: str) -> list[str]:
    """Sorted names starting with ``prefix``."""
    return sorted(n for n in names if n.startswith(prefix))
