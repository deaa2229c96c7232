"""The ledger interface and the records a ledger keeps.

A ledger keeps, per *scope* (``"session:abc"``, ``"user:u1"``, ``"user:u1@day:2026-11-21"``,
``"global"``...), the tokens committed and the tokens held by open reservations, and performs
each step (reserve, commit, rollback, record, expire) atomically in the store itself.

A subclass declares its URL ``schemes``; defining the class registers them (see
:mod:`ctxbudget.session.ledgers._registry` for the factory). This module imports no backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "Expired",
    "Hold",
    "Ledger",
    "Limit",
    "Overspend",
    "ReserveOutcome",
    "ScopeRecord",
    "SettleOutcome",
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
    """What a ledger holds for one scope. Token fields are in tokens, times in Unix seconds.

    ``overspent`` counts the tokens by which settle steps pushed ``used + reserved`` past the
    cap (see :class:`Overspend`), ``overspends`` how many steps did. ``cached_input_tokens``
    and ``cache_write_tokens`` are the parts of ``input_tokens`` read from and written to a
    prompt cache; ``cost`` sums the known costs (US dollars) and ``calls_unpriced`` counts the
    calls whose cost was unknown.
    """

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
    overspent: int = 0
    overspends: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    calls_unpriced: int = 0


@dataclass
class Hold:
    """An open or settled reservation as a ledger stores it.

    ``owner`` is the identity of the process that renews it (see
    :func:`~ctxbudget.session.ledgers._owner.this_process`), or ``None`` for a reservation
    nobody renews automatically.
    """

    id: str
    tokens: int
    scopes: tuple[str, ...]
    state: str  # active | committed | rolled_back | expired
    created: float
    expires: float
    retention_s: float
    owner: str | None = None


@dataclass(frozen=True)
class Overspend:
    """A settle step that pushed a scope's ``used + reserved`` past its cap.

    Attributes:
        record: the scope's record right after the step.
        tokens: tokens this step put beyond the cap (the growth of ``used + reserved - cap``).
        spent: tokens the step recorded.
        cause: ``"lease_lost"`` (a commit after its reservation was reclaimed: its tokens
            were no longer held), ``"over_reservation"`` (a commit of more than was reserved)
            or ``"unreserved"`` (a :meth:`Ledger.record` with no reservation).
    """

    record: ScopeRecord
    tokens: int
    spent: int
    cause: str


@dataclass(frozen=True)
class Expired:
    """A reservation whose lease ran out and whose tokens went back to the pool."""

    id: str
    tokens: int
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class ReserveOutcome:
    """The result of one reserve step: held, or refused by ``refused`` (with its numbers).

    ``exhausted`` is true when this refusal is the first to find the refusing scope exhausted:
    its committed spend leaves less room than the reservation asked for (``cap - used <
    tokens``), so no call of that size can fit until the period or the cap changes. The
    ledger marks the scope (``ScopeRecord.exhausted``) in the same step.
    """

    ok: bool
    refused: ScopeRecord | None = None
    expired: tuple[Expired, ...] = ()
    exhausted: bool = False


@dataclass(frozen=True)
class SettleOutcome:
    """The result of a commit or record: scopes that crossed the soft-warn line or their cap
    in this step (each reported once per scope), whether the lease had already expired (and
    the hold was reclaimed), and the scopes this step pushed past their cap."""

    soft_warned: tuple[ScopeRecord, ...] = ()
    exhausted: tuple[ScopeRecord, ...] = ()
    lease_had_expired: bool = False
    expired: tuple[Expired, ...] = field(default=())
    overspent: tuple[Overspend, ...] = ()


#: Lease of the hold that the default :meth:`Ledger.charge` takes between its two steps.
_CHARGE_LEASE_S = 60.0

#: URL scheme -> ledger class, filled by ``Ledger.__init_subclass__``.
schemes_registry: dict[str, type[Ledger]] = {}


class Ledger(ABC):
    """Where token spend lives. Subclasses declare ``schemes`` and perform each step atomically.

    Every method raises :class:`~ctxbudget.LedgerError` (the driver's error chained) when the
    store fails.
    """

    schemes: ClassVar[tuple[str, ...]] = ()
    url: str = ""
    #: Why this ledger may lose committed spend on a restart (e.g. Redis with no
    #: persistence), or ``None``. Read by :class:`~ctxbudget.SessionBudget` after each step.
    durability_warning: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for scheme in cls.schemes:
            schemes_registry[scheme] = cls

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, **options: Any) -> Ledger:
        """Open the ledger a URL names."""

    @abstractmethod
    def reserve(
        self,
        reservation_id: str,
        tokens: int,
        limits: Sequence[Limit],
        lease_s: float,
        owner: str | None = None,
    ) -> ReserveOutcome:
        """Hold ``tokens`` in every scope of ``limits`` if none would pass its cap; else nothing.

        Expired leases of any scope are reclaimed first, except those of an ``owner`` process
        the ledger can see running (row ledgers on one host). A replay of a reserve that was
        held (the same ``reservation_id``) holds nothing more and returns ``ok``.
        """

    @abstractmethod
    def renew(self, reservation_id: str, lease_s: float) -> bool:
        """Extend an active reservation's lease to ``lease_s`` seconds from now.

        A hold past its lease that was not reclaimed yet is still held, so it is renewed too.

        Returns:
            ``True`` if renewed; ``False`` if the lease had run out and the hold was reclaimed.

        Raises:
            ReservationError: the reservation was committed or rolled back, or is unknown.
        """

    @abstractmethod
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
        """Record actual usage in the reservation's scopes and release its hold.

        ``input_tokens`` counts every input token (``used`` grows by input plus output);
        ``cached_input_tokens`` and ``cache_write_tokens`` are the parts of it read from and
        written to a prompt cache. ``cost`` is in US dollars, or ``None`` when unknown (the
        scope's ``calls_unpriced`` grows by one instead).

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
        cost: float | None,
        soft_ratio: float,
        *,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> SettleOutcome:
        """Record usage known after the fact, in every scope of ``limits``, with no check
        (the arguments as for :meth:`commit`)."""

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
        """Spend usage known before the call, checked against every cap: a reserve of
        ``input_tokens + output_tokens`` and its commit as one atomic step.

        Refused exactly as :meth:`reserve` would refuse that many tokens (nothing is then
        recorded); else committed as :meth:`commit` records it. A replay with the same
        ``reservation_id`` records nothing more and returns the first outcome's verdict.
        This default takes two steps (reserve, then commit); row ledgers take one
        transaction and Redis one script (one round trip).

        Returns:
            ``(reserve outcome, settle outcome)``; the settle outcome is ``None`` when refused.
        """
        tokens = input_tokens + output_tokens
        held = self.reserve(reservation_id, tokens, limits, _CHARGE_LEASE_S, owner)
        if not held.ok:
            return held, None
        settled = self.commit(
            reservation_id,
            input_tokens,
            output_tokens,
            cost,
            soft_ratio,
            cached_input_tokens=cached_input_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        return held, settled

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

    async def astep(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run the step ``name`` (``"reserve"``, ``"commit"``, ``"status"``... any method
        above) without blocking the event loop, with the same arguments, result and errors.

        The default runs the sync method in a worker thread (:func:`asyncio.to_thread`); a
        ledger with an async driver overrides it (:class:`RedisLedger` through
        ``redis.asyncio``).
        """
        import asyncio  # not on the import path of ``import ctxbudget``

        return await asyncio.to_thread(getattr(self, name), *args, **kwargs)

    def close(self) -> None:  # noqa: B027 - optional for stores with nothing to release
        """Release connections; the ledger is unusable afterwards."""

    async def aclose(self) -> None:
        """:meth:`close`, and the async driver's connections of the running event loop."""
        self.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
