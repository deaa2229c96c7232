"""A reservation: tokens held for one call until it is committed or rolled back."""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING, Protocol

from .._errors import ConfigurationError, ReservationError
from ._heartbeat import HEARTBEAT
from ._pricing import Pricer, unpriced_call
from ._steps import Steps, call, run
from ._usage import Usage, checked_usage
from .ledgers import Ledger, Limit, SettleOutcome

if TYPE_CHECKING:
    from ._events import EventHub

__all__ = ["Reservation", "rollback_open"]


class _Holder(Protocol):
    """What a reservation settles through (a :class:`~ctxbudget.SessionBudget`)."""

    @property
    def ledger(self) -> Ledger: ...

    @property
    def pricer(self) -> Pricer: ...

    @property
    def soft_warn_ratio(self) -> float: ...

    @property
    def lease_s(self) -> float: ...

    @property
    def _events(self) -> EventHub: ...

    def _after(
        self,
        out: SettleOutcome,
        reservation_id: str | None = None,
        *,
        unpriced: tuple[str | None, str] | None = None,
    ) -> None: ...


class Reservation:
    """Tokens held for one call until it is committed or rolled back.

    Use as a context manager: leaving the block by an exception rolls back; leaving it without
    a commit rolls back too (nothing was spent).

    While the object is alive and unsettled, the process's heartbeat renews its lease every
    third of the lease (unless it was reserved with ``heartbeat=False``: then call
    :meth:`renew` yourself, or it expires after ``lease_s`` seconds and its tokens go back
    to the pool). Dropped unsettled, it is rolled back by the heartbeat.

    Attributes:
        id: the reservation id.
        tokens: tokens held.
        scopes: the scopes it holds tokens in.
        state: ``"active"``, ``"committed"`` or ``"rolled_back"``.
        lease_lost: ``True`` once its lease ran out and its tokens were reclaimed (seen by
            the heartbeat, :meth:`renew` or :meth:`commit`): a commit is still recorded, and
            reported as ``overspent`` where it passes a cap.
        lease_had_expired: set by :meth:`commit` when the lease had run out first.
    """

    def __init__(
        self,
        budget: _Holder,
        reservation_id: str,
        tokens: int,
        limits: tuple[Limit, ...],
        *,
        heartbeat: bool = False,
        idempotent: bool = False,
    ) -> None:
        self._budget = budget
        #: Made with an idempotency key: a repeated commit is a replay, not an error.
        self.idempotent = idempotent
        self.id = reservation_id
        self.tokens = tokens
        self.limits = limits
        self.scopes = tuple(limit.scope for limit in limits)
        self.state = "active"
        self.lease_lost = False
        self.lease_had_expired = False
        self.heartbeat = heartbeat
        if heartbeat:
            HEARTBEAT.add(self, budget.ledger, budget.lease_s)

    def _lease_lost(self) -> None:
        self.lease_lost = True

    def renew(self, lease_s: float | None = None) -> None:
        """Extend the lease to ``lease_s`` seconds from now (default: the budget's lease).

        Needed only for a reservation made with ``heartbeat=False``; harmless otherwise.

        Raises:
            ReservationError: already committed or rolled back, or its lease had run out and
                its tokens were reclaimed (``state == "expired"``; a commit is still recorded).
            ConfigurationError: ``lease_s`` is not a positive number of seconds.
            LedgerError: the ledger failed.
        """
        run(self._budget.ledger, self._renew_steps(lease_s))

    def _renew_steps(self, lease_s: float | None) -> Steps[None]:
        self._settled_check("renew")
        lease = self._budget.lease_s if lease_s is None else lease_s
        if (
            isinstance(lease, bool)
            or not isinstance(lease, (int, float))
            or not (lease > 0 and math.isfinite(lease))
        ):
            raise ConfigurationError(f"lease_s must be a positive number of seconds, got {lease!r}")
        renewed = yield call("renew", self.id, float(lease))
        if not renewed:
            self.lease_lost = True
            raise ReservationError(
                "cannot renew: its lease ran out and its tokens went back to the pool; a "
                "commit is still recorded, and reported as overspent where it passes a cap",
                reservation_id=self.id,
                state="expired",
            )

    def commit(
        self,
        input_tokens: int,
        output_tokens: int,
        model: str | None = None,
        *,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> None:
        """Record the call's actual usage and release the rest of the hold.

        More than reserved is recorded truthfully (a scope may then pass its cap and be
        ``exhausted``). A reservation whose lease expired is still recorded. Either way, it
        fires ``committed`` (usage, model, cost), then a scope this commit pushes past its
        cap fires ``overspent`` and counts in its status.

        Cached tokens count against caps like any input (they fill the window); only their
        price differs. The cost comes from the budget's ``prices``, then the model
        catalogue; a call whose model is unknown or ``None`` has no cost: it counts in
        ``calls_unpriced`` and fires ``unknown_model`` (once per model per budget).

        Args:
            input_tokens: every input token the call used (>= 0), cached ones included.
            output_tokens: completion tokens (>= 0), reasoning included.
            model: the model name, for the cost estimate.
            cached_input_tokens: of ``input_tokens``, those read from a prompt cache.
            cache_write_tokens: of ``input_tokens``, those written to a prompt cache.

        A reservation made with an ``idempotency_key`` (:meth:`SessionBudget.reserve`) that is
        committed already, by this object or by an earlier try of the same key in any process,
        is not committed again: the first commit's outcome stands, and nothing is raised.

        Raises:
            ReservationError: already committed (without an idempotency key) or rolled back.
            ConfigurationError: a token count is not a whole number in range, or the cached
                parts exceed ``input_tokens``.
            LedgerError: the ledger failed.
        """
        steps = self._commit_steps(
            input_tokens,
            output_tokens,
            model,
            cached_input_tokens=cached_input_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        run(self._budget.ledger, steps)

    def _commit_steps(
        self,
        input_tokens: int,
        output_tokens: int,
        model: str | None = None,
        *,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> Steps[None]:
        if self.idempotent and self.state == "committed":
            return  # a retried commit: the first one's outcome stands
        self._settled_check("commit")
        usage = checked_usage(input_tokens, output_tokens, cached_input_tokens, cache_write_tokens)
        cost = self._budget.pricer.cost(model, usage)
        try:
            out = yield call(
                "commit",
                self.id,
                usage.input_tokens,
                usage.output_tokens,
                cost,
                self._budget.soft_warn_ratio,
                cached_input_tokens=usage.cached_input_tokens,
                cache_write_tokens=usage.cache_write_tokens,
            )
        except ReservationError as exc:
            if not (self.idempotent and exc.state == "committed"):
                raise
            self.state = "committed"  # committed already, by the first try of this key
            if self.heartbeat:
                HEARTBEAT.remove(self.id)
            return
        self.state = "committed"
        if self.heartbeat:
            HEARTBEAT.remove(self.id)
        self.lease_had_expired = out.lease_had_expired
        self.lease_lost = self.lease_lost or out.lease_had_expired
        self._budget._events.committed(
            self.scopes, usage, model, cost, self.id, lease_had_expired=out.lease_had_expired
        )
        self._budget._after(out, self.id, unpriced=unpriced_call(cost, model, self.limits))

    def commit_usage(self, usage: Usage, model: str | None = None) -> None:
        """:meth:`commit` what a :class:`~ctxbudget.session.Usage` reports (from
        :func:`~ctxbudget.session.usage_of`), with ``model``, else the usage's own model.

        Raises:
            CtxBudgetError: the errors of :meth:`commit`.
        """
        self.commit(
            usage.input_tokens,
            usage.output_tokens,
            model if model is not None else usage.model,
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        )

    def rollback(self) -> None:
        """Release the whole hold; nothing is recorded.

        Raises:
            ReservationError: already committed or rolled back.
            LedgerError: the ledger failed.
        """
        run(self._budget.ledger, self._rollback_steps())

    def _rollback_steps(self) -> Steps[None]:
        self._settled_check("roll back")
        yield call("rollback", self.id)
        self.state = "rolled_back"
        if self.heartbeat:
            HEARTBEAT.remove(self.id)

    def _settled_check(self, what: str) -> None:
        if self.state != "active":
            raise ReservationError(
                f"cannot {what}: it is {self.state.replace('_', ' ')}",
                reservation_id=self.id,
                state=self.state,
            )

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.state == "active":
            self.rollback()

    def __repr__(self) -> str:
        return f"Reservation({self.id!r}, tokens={self.tokens}, state={self.state!r})"


def rollback_open(ledger: Ledger) -> None:
    """Stop renewing the reservations open in ``ledger`` and roll back those still alive
    and active (one settled elsewhere meanwhile is left as it is).

    Raises:
        LedgerError: the ledger failed while rolling back.
    """
    for reservation in HEARTBEAT.release(ledger):
        if reservation.state == "active":
            with contextlib.suppress(ReservationError):
                reservation.rollback()
