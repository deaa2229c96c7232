"""The ledger interface, its scheme registry, and the check-and-spend logic of row stores.

A ledger keeps, per *scope* (``"session:abc"``, ``"user:u1"``, ``"user:u1@day:2026-11-21"``,
``"global"``...), the tokens committed and the tokens held by open reservations, and performs
each step (reserve, commit, rollback, record, expire) atomically in the store itself.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from .._errors import LedgerError, ReservationError

__all__ = [
    "Expired",
    "Ledger",
    "Limit",
    "ReserveOutcome",
    "ScopeRecord",
    "SettleOutcome",
    "ledger_from_url",
    "ledger_schemes",
]


@dataclass(frozen=True)
class Limit:
    """One scope a reservation or record touches, with its cap (``None``: counted, unlimited).

    ``retention_s`` is how long the scope is kept after its last update.
    """

    scope: str
    cap: int | None
    retention_s: float


@dataclass
class ScopeRecord:
    """What a ledger holds for one scope. Token fields are in tokens, times in Unix seconds."""

    scope: str
    cap: int | None = None
    used: int = 0
    reserved: int = 0
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    created: float = 0.0
    updated: float = 0.0
    warned: bool = False
    exhausted: bool = False
    expires: float = 0.0


@dataclass
class Hold:
    """An open or settled reservation as a ledger stores it."""

    id: str
    tokens: int
    scopes: tuple[str, ...]
    state: str  # active | committed | rolled_back | expired
    created: float
    expires: float
    retention_s: float


@dataclass(frozen=True)
class Expired:
    """A reservation whose lease ran out and whose tokens went back to the pool."""

    id: str
    tokens: int
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class ReserveOutcome:
    """The result of one reserve step: held, or refused by ``refused`` (with its numbers)."""

    ok: bool
    refused: ScopeRecord | None = None
    expired: tuple[Expired, ...] = ()


@dataclass(frozen=True)
class SettleOutcome:
    """The result of a commit or record: scopes that crossed the soft-warn line or their cap
    in this step (each reported once per scope), and whether the lease had already expired."""

    soft_warned: tuple[ScopeRecord, ...] = ()
    exhausted: tuple[ScopeRecord, ...] = ()
    lease_had_expired: bool = False
    expired: tuple[Expired, ...] = field(default=())


_registry: dict[str, type[Ledger]] = {}


def ledger_schemes() -> list[str]:
    """URL schemes of every known ledger, sorted (``memory``, ``redis``, ``sqlite``...)."""
    _load_builtin()
    return sorted(_registry)


def _load_builtin() -> None:
    from . import _memory, _sqlite  # noqa: F401  (register their schemes)

    if "redis" not in _registry:
        _registry["redis"] = _registry["rediss"] = _LazyRedis  # type: ignore[type-abstract]


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def ledger_from_url(url: str, **options: Any) -> Ledger:
    """The ledger for ``url``: ``memory://``, ``sqlite:///path.db``, ``redis://host:port/db``.

    Args:
        url: the ledger URL; its scheme picks the ledger class.
        options: passed to the ledger class (e.g. ``key_prefix``, ``fail_open`` for Redis).

    Raises:
        LedgerError: the scheme is unknown (the message lists the known ones), the URL is
            malformed, the store cannot be opened, or an optional driver is missing (the message
            names ``pip install 'ctxbudget[redis]'``).
    """
    scheme = urlsplit(url).scheme
    _load_builtin()
    cls = _registry.get(scheme)
    if cls is None:
        known = ", ".join(f"{s}://" for s in sorted(_registry))
        raise LedgerError(
            f"unknown ledger scheme {scheme!r}; known schemes: {known}", url=redact(url)
        )
    return cls.from_url(url, **options)


class Ledger(ABC):
    """Where token spend lives. Subclasses declare ``schemes`` and perform each step atomically.

    Every method raises :class:`~ctxbudget.LedgerError` (the driver's error chained) when the
    store fails.
    """

    schemes: ClassVar[tuple[str, ...]] = ()
    url: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for scheme in cls.schemes:
            _registry[scheme] = cls

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, **options: Any) -> Ledger:
        """Open the ledger a URL names."""

    @abstractmethod
    def reserve(
        self, reservation_id: str, tokens: int, limits: Sequence[Limit], lease_s: float
    ) -> ReserveOutcome:
        """Hold ``tokens`` in every scope of ``limits`` if none would pass its cap; else nothing.

        Expired leases of any scope are reclaimed first.
        """

    @abstractmethod
    def commit(
        self,
        reservation_id: str,
        input_tokens: int,
        output_tokens: int,
        cost: float,
        soft_ratio: float,
    ) -> SettleOutcome:
        """Record actual usage in the reservation's scopes and release its hold.

        Raises:
            ReservationError: the reservation was already committed or rolled back, or is
                unknown. A reservation whose lease expired is still committed: spend is
                recorded truthfully (``lease_had_expired`` says so).
        """

    @abstractmethod
    def rollback(self, reservation_id: str) -> None:
        """Release the reservation's hold without recording usage.

        Raises:
            ReservationError: it was already committed or rolled back, or is unknown.
        """

    @abstractmethod
    def record(
        self,
        limits: Sequence[Limit],
        input_tokens: int,
        output_tokens: int,
        cost: float,
        soft_ratio: float,
    ) -> SettleOutcome:
        """Record usage known after the fact, in every scope of ``limits``, with no check."""

    @abstractmethod
    def expire(self) -> tuple[Expired, ...]:
        """Reclaim every expired lease and delete scopes and reservations past retention."""

    @abstractmethod
    def status(self, scope: str) -> ScopeRecord | None:
        """The record of ``scope``, or ``None`` if it has none."""

    @abstractmethod
    def scopes(self, prefix: str = "") -> list[str]:
        """Names of the scopes kept, sorted, optionally only those starting with ``prefix``."""

    @abstractmethod
    def reset(self, scope: str) -> bool:
        """Delete the record of ``scope`` (its spend starts again from zero); ``True`` if any."""

    def close(self) -> None:  # noqa: B027 - optional for stores with nothing to release
        """Release connections; the ledger is unusable afterwards."""

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _LazyRedis(Ledger):
    """Stands in for the Redis ledger until first use, so ``redis`` is imported only then."""

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Ledger:
        from ._redis import RedisLedger

        return RedisLedger.from_url(url, **options)


# -- row stores: memory and SQLite share one implementation of the steps ------------------------


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

    @staticmethod
    def _reclaim(rows: Rows, now: float) -> tuple[Expired, ...]:
        out = []
        for hold in rows.expired_holds(now):
            for scope in hold.scopes:
                record = rows.get_scope(scope)
                if record is not None:
                    record.reserved = max(0, record.reserved - hold.tokens)
                    record.updated = now
                    rows.put_scope(record)
            rows.put_hold(replace(hold, state="expired", expires=now + hold.retention_s))
            out.append(Expired(hold.id, hold.tokens, hold.scopes))
        return tuple(out)

    def reserve(
        self, reservation_id: str, tokens: int, limits: Sequence[Limit], lease_s: float
    ) -> ReserveOutcome:
        with self._step() as rows:
            now = self._now()
            expired = self._reclaim(rows, now)
            records = []
            for limit in limits:
                record = rows.get_scope(limit.scope) or ScopeRecord(limit.scope, created=now)
                record.cap = limit.cap
                if limit.cap is not None and record.used + record.reserved + tokens > limit.cap:
                    return ReserveOutcome(ok=False, refused=record, expired=expired)
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
                )
            )
            return ReserveOutcome(ok=True, expired=expired)

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
        cost: float,
        soft_ratio: float,
    ) -> SettleOutcome:
        with self._step() as rows:
            now = self._now()
            expired = self._reclaim(rows, now)
            hold = self._open_hold(rows, reservation_id, "commit")
            lapsed = hold.state == "expired"
            usage = _Usage(input_tokens, output_tokens, cost, soft_ratio, now)
            for scope in hold.scopes:
                record = rows.get_scope(scope) or ScopeRecord(scope, created=now)
                if not lapsed:
                    record.reserved = max(0, record.reserved - hold.tokens)
                record.expires = max(record.expires, now + hold.retention_s)
                usage.spend(rows, record)
            rows.put_hold(replace(hold, state="committed", expires=now + hold.retention_s))
            return usage.outcome(lapsed, expired)

    def rollback(self, reservation_id: str) -> None:
        with self._step() as rows:
            now = self._now()
            self._reclaim(rows, now)
            hold = self._open_hold(rows, reservation_id, "roll back")
            if hold.state == "active":
                for scope in hold.scopes:
                    record = rows.get_scope(scope)
                    if record is not None:
                        record.reserved = max(0, record.reserved - hold.tokens)
                        record.updated = now
                        rows.put_scope(record)
            rows.put_hold(replace(hold, state="rolled_back", expires=now + hold.retention_s))

    def record(
        self,
        limits: Sequence[Limit],
        input_tokens: int,
        output_tokens: int,
        cost: float,
        soft_ratio: float,
    ) -> SettleOutcome:
        with self._step() as rows:
            now = self._now()
            expired = self._reclaim(rows, now)
            usage = _Usage(input_tokens, output_tokens, cost, soft_ratio, now)
            for limit in limits:
                record = rows.get_scope(limit.scope) or ScopeRecord(limit.scope, created=now)
                record.cap = limit.cap
                record.expires = now + limit.retention_s
                usage.spend(rows, record)
            return usage.outcome(False, expired)

    def expire(self) -> tuple[Expired, ...]:
        with self._step() as rows:
            now = self._now()
            expired = self._reclaim(rows, now)
            rows.delete_before(now)
            return expired


@dataclass
class _Usage:
    """One call's usage, spent into each of its scopes within one step."""

    input_tokens: int
    output_tokens: int
    cost: float
    soft_ratio: float
    now: float
    warned: list[ScopeRecord] = field(default_factory=list)
    exhausted: list[ScopeRecord] = field(default_factory=list)

    def spend(self, rows: Rows, record: ScopeRecord) -> None:
        """Add the usage to ``record``; note it once when it crosses the soft-warn line or cap."""
        record.used += self.input_tokens + self.output_tokens
        record.calls += 1
        record.input_tokens += self.input_tokens
        record.output_tokens += self.output_tokens
        record.cost += self.cost
        record.updated = self.now
        if record.cap is not None:
            if not record.warned and record.used >= self.soft_ratio * record.cap:
                record.warned = True
                self.warned.append(replace(record))
            if not record.exhausted and record.used >= record.cap:
                record.exhausted = True
                self.exhausted.append(replace(record))
        rows.put_scope(record)

    def outcome(self, lapsed: bool, expired: tuple[Expired, ...]) -> SettleOutcome:
        return SettleOutcome(tuple(self.warned), tuple(self.exhausted), lapsed, expired)


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
