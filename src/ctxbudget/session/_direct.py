"""Spending without a reservation: usage recorded after the fact, or charged in one step.

The two methods of :class:`~ctxbudget.SessionBudget` that settle usage with no
:class:`~ctxbudget.Reservation` in between (a base class of it).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._pricing import unpriced_call
from ._steps import Steps, call, run
from ._usage import checked_usage
from .ledgers._owner import this_process

if TYPE_CHECKING:
    from ._budget import SessionBudget

__all__ = ["DirectSpend"]


class DirectSpend:
    """:meth:`record` and :meth:`charge` of :class:`~ctxbudget.SessionBudget`."""

    def record(
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
        """Record usage known after the fact, with no reservation and no check (the counts
        and the cost as in :meth:`Reservation.commit`).

        Raises:
            ConfigurationError: a token count or id is invalid.
            LedgerError: the ledger failed.
        """
        self_: SessionBudget = self  # type: ignore[assignment]
        steps = self._record_steps(
            input_tokens,
            output_tokens,
            (session, user, conversation),
            model=model,
            cached_input_tokens=cached_input_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        run(self_.ledger, steps)

    def _record_steps(
        self,
        input_tokens: int,
        output_tokens: int,
        ids: tuple[str, str | None, str | None],
        *,
        model: str | None,
        cached_input_tokens: int,
        cache_write_tokens: int,
    ) -> Steps[None]:
        """:meth:`record` as ledger steps; ``ids`` is ``(session, user, conversation)``."""
        self_: SessionBudget = self  # type: ignore[assignment]
        usage = checked_usage(input_tokens, output_tokens, cached_input_tokens, cache_write_tokens)
        limits = self_._limits(*ids)
        cost = self_.pricer.cost(model, usage)
        out = yield call(
            "record",
            limits,
            usage.input_tokens,
            usage.output_tokens,
            cost,
            self_.soft_warn_ratio,
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        )
        self_._events.committed([lim.scope for lim in limits], usage, model, cost, None)
        self_._after(out, unpriced=unpriced_call(cost, model, limits))

    def charge(
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
        """Spend usage known before the call (a cached reply, a priced tool, a batch result),
        checked against every cap as one atomic step of the ledger: one round trip on Redis,
        one transaction on SQLite (the counts and the cost as in :meth:`Reservation.commit`).

        Refused as :meth:`reserve` of ``input_tokens + output_tokens`` would be, and then
        nothing is recorded; else recorded as a commit is.

        Raises:
            BudgetExhausted: a scope would pass its cap (nothing is recorded).
            ConfigurationError: a token count or id is invalid.
            LedgerError: the ledger failed.
        """
        self_: SessionBudget = self  # type: ignore[assignment]
        steps = self._charge_steps(
            input_tokens,
            output_tokens,
            (session, user, conversation),
            model=model,
            cached_input_tokens=cached_input_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        run(self_.ledger, steps)

    def _charge_steps(
        self,
        input_tokens: int,
        output_tokens: int,
        ids: tuple[str, str | None, str | None],
        *,
        model: str | None,
        cached_input_tokens: int,
        cache_write_tokens: int,
    ) -> Steps[None]:
        """:meth:`charge` as ledger steps; ``ids`` is ``(session, user, conversation)``."""
        self_: SessionBudget = self  # type: ignore[assignment]
        usage = checked_usage(input_tokens, output_tokens, cached_input_tokens, cache_write_tokens)
        limits = self_._limits(*ids)
        cost = self_.pricer.cost(model, usage)
        charge_id = os.urandom(16).hex()
        held, settled = yield call(
            "charge",
            charge_id,
            limits,
            usage.input_tokens,
            usage.output_tokens,
            cost=cost,
            soft_ratio=self_.soft_warn_ratio,
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            owner=this_process(),
        )
        self_._events.durability()
        self_._events.expired(held.expired)
        if settled is None:  # refused
            self_._events.refuse(held, usage.total_tokens)
        self_._events.committed([lim.scope for lim in limits], usage, model, cost, charge_id)
        self_._after(settled, charge_id, unpriced=unpriced_call(cost, model, limits))
