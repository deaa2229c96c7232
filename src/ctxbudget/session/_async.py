"""The session budget's async API: every ledger step in a worker thread, never on the loop.

``await budget.areserve(...)``, ``acommit``, ``arollback``, ``arenew``, ``acharge``,
``arecord``, ``astatus`` and ``areap`` run the same step as their sync forms, with the same
atomicity, events and errors, through :func:`asyncio.to_thread`: while a step waits (for the
SQLite write lock another process holds, a Redis or PostgreSQL round trip), the event loop
keeps running every other task. One thread per waiting step, from the loop's default
executor; the ledgers are thread-safe.

A cancelled ``areserve`` (the task cancelled while the step ran) rolls back the reservation
once the step returns, so a cancellation never leaves tokens held.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ._budget import SessionBudget
    from ._reservation import Reservation
    from ._values import BudgetStatus

__all__ = ["AsyncBudget", "AsyncReservation"]

T = TypeVar("T")


async def _off_loop(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(call, *args, **kwargs)


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

    async def acommit(self, *args: Any, **kwargs: Any) -> None:
        """:meth:`Reservation.commit` in a worker thread (same arguments and errors)."""
        await _off_loop(self.sync.commit, *args, **kwargs)

    async def acommit_usage(self, *args: Any, **kwargs: Any) -> None:
        """:meth:`Reservation.commit_usage` in a worker thread (same arguments and errors)."""
        await _off_loop(self.sync.commit_usage, *args, **kwargs)

    async def arollback(self) -> None:
        """:meth:`Reservation.rollback` in a worker thread (same errors)."""
        await _off_loop(self.sync.rollback)

    async def arenew(self, lease_s: float | None = None) -> None:
        """:meth:`Reservation.renew` in a worker thread (same arguments and errors)."""
        await _off_loop(self.sync.renew, lease_s)

    async def __aenter__(self) -> AsyncReservation:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sync.state == "active":
            await self.arollback()

    def __repr__(self) -> str:
        return f"AsyncReservation({self.sync!r})"


class AsyncBudget:
    """The async methods of :class:`~ctxbudget.SessionBudget` (a base class of it)."""

    async def areserve(self, tokens: int, **scopes: Any) -> AsyncReservation:
        """:meth:`SessionBudget.reserve` without blocking the loop (same arguments, result
        wrapped in an :class:`AsyncReservation`, same errors: ``BudgetExhausted``,
        ``ConfigurationError``, ``LedgerError``).

        Cancelled while the step runs, the reservation is rolled back when it returns.
        """
        budget: SessionBudget = self  # type: ignore[assignment]
        task = asyncio.ensure_future(_off_loop(budget.reserve, tokens, **scopes))
        try:
            return AsyncReservation(await asyncio.shield(task))
        except asyncio.CancelledError:
            task.add_done_callback(_roll_back_when_held)
            raise

    async def acharge(self, input_tokens: int, output_tokens: int, **kwargs: Any) -> None:
        """:meth:`SessionBudget.charge` in a worker thread (same arguments and errors)."""
        budget: SessionBudget = self  # type: ignore[assignment]
        await _off_loop(budget.charge, input_tokens, output_tokens, **kwargs)

    async def arecord(self, input_tokens: int, output_tokens: int, **kwargs: Any) -> None:
        """:meth:`SessionBudget.record` in a worker thread (same arguments and errors)."""
        budget: SessionBudget = self  # type: ignore[assignment]
        await _off_loop(budget.record, input_tokens, output_tokens, **kwargs)

    async def astatus(self, session: str | None = None, **kwargs: Any) -> BudgetStatus:
        """:meth:`SessionBudget.status` in a worker thread (same arguments and errors)."""
        budget: SessionBudget = self  # type: ignore[assignment]
        return await _off_loop(budget.status, session, **kwargs)

    async def areap(self) -> int:
        """:meth:`SessionBudget.reap` in a worker thread."""
        budget: SessionBudget = self  # type: ignore[assignment]
        return await _off_loop(budget.reap)


def _roll_back_when_held(task: asyncio.Future[Reservation]) -> None:
    """Roll back the reservation of a cancelled ``areserve`` once its step has returned."""
    if task.cancelled() or task.exception() is not None:
        return
    reservation = task.result()
    if reservation.state == "active":  # settle off the loop, like every other step
        asyncio.get_running_loop().run_in_executor(None, reservation.rollback)
