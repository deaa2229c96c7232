"""The session budget's async API: every ledger step awaited, never blocking the loop.

``await budget.areserve(...)``, ``acommit``, ``arollback``, ``arenew``, ``acharge``,
``arecord``, ``astatus`` and ``areap`` run the same operation as their sync forms (the same
generator of :mod:`._steps`: the same checks, atomic step, events and errors) and await the
ledger's step through :meth:`Ledger.astep <ctxbudget.ledgers.Ledger.astep>`: natively on
Redis (``redis.asyncio``, one client per event loop), in a worker thread on the other ledgers
(:func:`asyncio.to_thread`: SQLite's write lock, a PostgreSQL transaction). While a step
waits, the event loop keeps running every other task.

A cancelled ``areserve`` (the task cancelled while the step ran) rolls back the reservation
once the step returns, so a cancellation never leaves tokens held. ``await budget.aclose()``
closes the ledger, the async driver's connections of the running loop included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, cast

from .._errors import CtxBudgetError
from ._steps import Steps, arun

if TYPE_CHECKING:
    from ._budget import SessionBudget
    from ._reservation import Reservation
    from ._usage import Usage
    from ._values import BudgetStatus
    from .ledgers import Ledger

__all__ = ["AsyncBudget", "AsyncReservation", "reserved"]

log = logging.getLogger("ctxbudget.session")


class AsyncReservation:
    """A :class:`~ctxbudget.Reservation` settled without blocking the event loop.

    ``id``, ``tokens``, ``scopes``, ``state`` and ``lease_lost`` read through to the
    reservation (:attr:`sync`). As an async context manager, leaving the block by an exception,
    or without a commit, rolls back, as the sync form does.
    """

    def __init__(self, reservation: Reservation) -> None:
        self.sync = reservation

    def __getattr__(self, name: str) -> Any:
        if name in ("id", "tokens", "scopes", "state", "lease_lost"):
            return getattr(self.sync, name)
        raise AttributeError(name)

    async def acommit(
        self,
        input_tokens: int,
        output_tokens: int,
        model: str | None = None,
        *,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> None:
        """:meth:`Reservation.commit`, awaited (same arguments and errors)."""
        steps = self.sync._commit_steps(
            input_tokens,
            output_tokens,
            model,
            cached_input_tokens=cached_input_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        await arun(self.sync._budget.ledger, steps)

    async def acommit_usage(self, usage: Usage, model: str | None = None) -> None:
        """:meth:`Reservation.commit_usage`, awaited (same arguments and errors)."""
        await self.acommit(
            usage.input_tokens,
            usage.output_tokens,
            model if model is not None else usage.model,
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        )

    async def arollback(self) -> None:
        """:meth:`Reservation.rollback`, awaited (same errors)."""
        await arun(self.sync._budget.ledger, self.sync._rollback_steps())

    async def arenew(self, lease_s: float | None = None) -> None:
        """:meth:`Reservation.renew`, awaited (same arguments and errors)."""
        await arun(self.sync._budget.ledger, self.sync._renew_steps(lease_s))

    async def __aenter__(self) -> AsyncReservation:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sync.state == "active":
            await self.arollback()

    def __repr__(self) -> str:
        return f"AsyncReservation({self.sync!r})"


async def reserved(ledger: Ledger, steps: Steps[Reservation]) -> AsyncReservation:
    """Await a reservation's steps; cancelled meanwhile, the hold is rolled back once the
    step returns."""
    task = asyncio.ensure_future(arun(ledger, steps))
    try:
        return AsyncReservation(await asyncio.shield(task))
    except asyncio.CancelledError:
        task.add_done_callback(_roll_back_when_held)
        raise


class AsyncBudget:
    """The async methods of :class:`~ctxbudget.SessionBudget` (a base class of it)."""

    async def areserve(
        self,
        tokens: int,
        *,
        session: str,
        user: str | None = None,
        conversation: str | None = None,
        heartbeat: bool = True,
        idempotency_key: str | None = None,
    ) -> AsyncReservation:
        """:meth:`SessionBudget.reserve`, awaited (same arguments, result wrapped in an
        :class:`AsyncReservation`, same errors: ``BudgetExhausted``, ``ConfigurationError``,
        ``LedgerError``).

        Cancelled while the step runs, the reservation is rolled back when it returns.
        """
        budget: SessionBudget = self  # type: ignore[assignment]
        steps = budget._reserve_steps(
            tokens,
            session,
            user,
            conversation,
            heartbeat=heartbeat,
            idempotency_key=idempotency_key,
        )
        return await reserved(budget.ledger, steps)

    async def acharge(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        session: str,
        user: str | None = None,
        conversation: str | None = None,
        model: str | None = None,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> None:
        """:meth:`SessionBudget.charge`, awaited (same arguments and errors)."""
        budget: SessionBudget = self  # type: ignore[assignment]
        steps = budget._charge_steps(
            input_tokens,
            output_tokens,
            (session, user, conversation),
            model=model,
            cached_input_tokens=cached_input_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        await arun(budget.ledger, steps)

    async def arecord(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        session: str,
        user: str | None = None,
        conversation: str | None = None,
        model: str | None = None,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> None:
        """:meth:`SessionBudget.record`, awaited (same arguments and errors)."""
        budget: SessionBudget = self  # type: ignore[assignment]
        steps = budget._record_steps(
            input_tokens,
            output_tokens,
            (session, user, conversation),
            model=model,
            cached_input_tokens=cached_input_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        await arun(budget.ledger, steps)

    async def astatus(
        self,
        session: str | None = None,
        *,
        user: str | None = None,
        conversation: str | None = None,
        scope: str | None = None,
    ) -> BudgetStatus:
        """:meth:`SessionBudget.status`, awaited (same arguments and errors)."""
        budget: SessionBudget = self  # type: ignore[assignment]
        steps = budget._status_steps(session, user=user, conversation=conversation, scope=scope)
        return await arun(budget.ledger, steps)

    async def areap(self) -> int:
        """:meth:`SessionBudget.reap`, awaited."""
        budget: SessionBudget = self  # type: ignore[assignment]
        return await arun(budget.ledger, budget._reap_steps())

    async def aclose(self) -> None:
        """:meth:`SessionBudget.close`, awaited: the reservations still open in the ledger
        are rolled back, then the ledger is closed, its async driver's connections of the
        running loop included.

        Raises:
            LedgerError: the ledger failed while rolling back (it is closed all the same).
        """
        from .._errors import ReservationError
        from ._heartbeat import HEARTBEAT

        budget: SessionBudget = self  # type: ignore[assignment]
        try:
            for held in HEARTBEAT.release(budget.ledger):
                reservation = cast("Reservation", held)
                if reservation.state == "active":
                    with contextlib.suppress(ReservationError):  # settled meanwhile
                        await arun(budget.ledger, reservation._rollback_steps())
        finally:
            await budget.ledger.aclose()

    async def __aenter__(self) -> SessionBudget:
        return self  # type: ignore[return-value]

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _roll_back_when_held(task: asyncio.Future[Reservation]) -> None:
    """Roll back the reservation of a cancelled ``areserve`` once its step has returned."""
    if task.cancelled() or task.exception() is not None:
        return
    reservation = task.result()
    if reservation.state == "active":  # awaited like every other step, as a task of its own
        rollback = asyncio.ensure_future(_roll_back(reservation))
        _BACKGROUND.add(rollback)  # the loop keeps only a weak reference to a task
        rollback.add_done_callback(_BACKGROUND.discard)


#: Rollbacks of cancelled reservations still running.
_BACKGROUND: set[asyncio.Future[None]] = set()


async def _roll_back(reservation: Reservation) -> None:
    try:
        await AsyncReservation(reservation).arollback()
    except CtxBudgetError:  # settled meanwhile, or the ledger failed: its lease reclaims it
        log.warning("could not roll back cancelled reservation %s", reservation.id, exc_info=True)
