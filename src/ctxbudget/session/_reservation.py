"""A reservation: tokens held for one call until it is committed or rolled back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .._errors import ReservationError
from ._pricing import estimate_cost
from ._values import check_tokens
from .ledgers import Ledger, Limit, SettleOutcome

__all__ = ["Reservation"]


class _Holder(Protocol):
    """What a reservation settles through (a :class:`~ctxbudget.SessionBudget`)."""

    @property
    def ledger(self) -> Ledger: ...

    @property
    def prices(self) -> Mapping[str, tuple[float, float]]: ...

    @property
    def soft_warn_ratio(self) -> float: ...

    def _after(self, out: SettleOutcome) -> None: ...


class Reservation:
    """Tokens held for one call until it is committed or rolled back (or its lease expires).

    Use as a context manager: leaving the block by an exception rolls back; leaving it without
    a commit rolls back too (nothing was spent).

    Attributes:
        id: the reservation id.
        tokens: tokens held.
        scopes: the scopes it holds tokens in.
        state: ``"active"``, ``"committed"`` or ``"rolled_back"``.
        lease_had_expired: set by :meth:`commit` when the lease had run out first.
    """

    def __init__(
        self, budget: _Holder, reservation_id: str, tokens: int, limits: tuple[Limit, ...]
    ) -> None:
        self._budget = budget
        self.id = reservation_id
        self.tokens = tokens
        self.limits = limits
        self.scopes = tuple(limit.scope for limit in limits)
        self.state = "active"
        self.lease_had_expired = False

    def commit(self, input_tokens: int, output_tokens: int, model: str | None = None) -> None:
        """Record the call's actual usage and release the rest of the hold.

        More than reserved is recorded truthfully (a scope may then pass its cap and be
        ``exhausted``). A reservation whose lease expired is still recorded.

        Args:
            input_tokens: prompt tokens the call used (>= 0).
            output_tokens: completion tokens (>= 0).
            model: the model name, for the cost estimate.

        Raises:
            ReservationError: already committed or rolled back.
            ConfigurationError: a token count is not a whole number in range.
            LedgerError: the ledger failed.
        """
        self._settled_check("commit")
        check_tokens(input_tokens, "input_tokens", allow_zero=True)
        check_tokens(output_tokens, "output_tokens", allow_zero=True)
        cost = estimate_cost(model, input_tokens, output_tokens, self._budget.prices)
        out = self._budget.ledger.commit(
            self.id, input_tokens, output_tokens, cost, self._budget.soft_warn_ratio
        )
        self.state = "committed"
        self.lease_had_expired = out.lease_had_expired
        self._budget._after(out)

    def rollback(self) -> None:
        """Release the whole hold; nothing is recorded.

        Raises:
            ReservationError: already committed or rolled back.
            LedgerError: the ledger failed.
        """
        self._settled_check("roll back")
        self._budget.ledger.rollback(self.id)
        self.state = "rolled_back"

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
