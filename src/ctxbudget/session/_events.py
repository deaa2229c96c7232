"""Budget events: callbacks by event name, and the events each ledger outcome fires."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn

from .._errors import BudgetExhausted, ConfigurationError
from .._telemetry import note
from ._usage import Usage
from ._values import EVENTS, BudgetEvent, BudgetStatus, EventName, State, utc
from .ledgers import Expired, Ledger, ReserveOutcome, ScopeRecord, SettleOutcome

__all__ = ["EventHub", "status_of"]

log = logging.getLogger("ctxbudget.session")


def status_of(record: ScopeRecord, soft_warn_ratio: float) -> BudgetStatus:
    """The :class:`BudgetStatus` of a ledger record (see it for the states)."""
    cap = record.cap
    if cap is not None and (record.used >= cap or record.exhausted):
        state: State = "exhausted"
    elif cap is not None and record.used >= soft_warn_ratio * cap:
        state = "near_cap"
    else:
        state = "active"
    return BudgetStatus(
        scope=record.scope,
        used=record.used,
        reserved=record.reserved,
        remaining=None if cap is None else max(0, cap - record.used - record.reserved),
        cap=cap,
        calls=record.calls,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cost=record.cost,
        created=utc(record.created),
        updated=utc(record.updated),
        state=state,
        overspent=record.overspent,
        overspends=record.overspends,
        cached_input_tokens=record.cached_input_tokens,
        cache_write_tokens=record.cache_write_tokens,
        calls_unpriced=record.calls_unpriced,
    )


class EventHub:
    """The callbacks of one session budget, and the events its ledger steps fire."""

    def __init__(self, ledger: Ledger, soft_warn_ratio: float) -> None:
        self._ledger = ledger
        self._ratio = soft_warn_ratio
        self._callbacks: dict[str, list[Callable[[BudgetEvent], None]]] = {e: [] for e in EVENTS}
        self._lock = threading.Lock()
        self._durability_reported = False

    def on(self, event: EventName, callback: Callable[[BudgetEvent], None]) -> None:
        """Register ``callback`` for ``event``.

        Raises:
            ConfigurationError: unknown event name (the message lists the known ones).
        """
        if event not in self._callbacks:
            raise ConfigurationError(f"unknown event {event!r}; events: {', '.join(EVENTS)}")
        with self._lock:
            self._callbacks[event].append(callback)

    def emit(self, event: BudgetEvent) -> None:
        for callback in list(self._callbacks[event.name]):
            callback(event)

    def refuse(self, out: ReserveOutcome, tokens: int) -> NoReturn:
        """Raise :class:`~ctxbudget.BudgetExhausted` for a refused reserve step of ``tokens``,
        firing ``exhausted`` first when this step found the scope exhausted."""
        refused = out.refused
        assert refused is not None
        assert refused.cap is not None
        note("refused", refused.scope)
        if out.exhausted:
            self.emit(BudgetEvent("exhausted", refused.scope, status_of(refused, self._ratio)))
        raise BudgetExhausted(
            scope=refused.scope,
            used=refused.used,
            reserved=refused.reserved,
            cap=refused.cap,
            requested=tokens,
        )

    def committed(
        self,
        scopes: Sequence[str],
        usage: Usage,
        model: str | None,
        cost: float | None,
        reservation_id: str | None,
        *,
        lease_had_expired: bool = False,
    ) -> None:
        """Fire ``committed`` for a commit or record of ``usage`` (tokens) charged to
        ``scopes``, costing ``cost`` US dollars (``None``: unknown), and tell the traced call
        around it, if any (:func:`ctxbudget._telemetry.note`). Fired right after the ledger
        step, before the events the step caused (soft warnings, exhaustion, overspend)."""
        event = BudgetEvent(
            "committed",
            scopes[0] if scopes else None,
            reservation_id=reservation_id,
            tokens=usage.input_tokens + usage.output_tokens,
            detail={
                "scopes": tuple(scopes),
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cached_input_tokens": usage.cached_input_tokens,
                "cache_write_tokens": usage.cache_write_tokens,
                "model": model,
                "cost": cost,
                "lease_had_expired": lease_had_expired,
            },
        )
        note("committed", event)
        self.emit(event)

    def settled(self, out: SettleOutcome, reservation_id: str | None) -> None:
        """The events of a commit or record."""
        self.durability()
        self.expired(out.expired)
        for record in out.soft_warned:
            self.emit(BudgetEvent("soft_warned", record.scope, status_of(record, self._ratio)))
        for record in out.exhausted:
            self.emit(BudgetEvent("exhausted", record.scope, status_of(record, self._ratio)))
        for over in out.overspent:
            self.emit(
                BudgetEvent(
                    "overspent",
                    over.record.scope,
                    status_of(over.record, self._ratio),
                    reservation_id=reservation_id,
                    tokens=over.tokens,
                    detail={"cause": over.cause, "spent": over.spent, "cap": over.record.cap},
                )
            )

    def unpriced(
        self,
        model: str | None,
        scope: str,
        reservation_id: str | None,
        suggestions: list[str],
    ) -> None:
        """Fire ``unknown_model`` (and log a warning for a named model): a call's cost is
        unknown, never read as $0."""
        if model is None:
            message = "a call was committed without a model: its cost is unknown"
        else:
            hint = f"; did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
            message = (
                f"no price for model {model!r}: the cost of its calls is unknown (not $0)"
                f"{hint} Pass prices={{...}} or a catalogue file in litellm's format"
            )
            log.warning("ctxbudget: %s", message)
        detail = {"model": model, "suggestions": suggestions, "message": message}
        self.emit(BudgetEvent("unknown_model", scope, reservation_id=reservation_id, detail=detail))

    def durability(self) -> None:
        """Fire ``not_durable`` once, when the ledger reports it may lose spend."""
        warning = self._ledger.durability_warning
        if warning is not None and not self._durability_reported:
            self._durability_reported = True
            self.emit(
                BudgetEvent(
                    "not_durable", None, detail={"message": warning, "ledger": self._ledger.url}
                )
            )

    def expired(self, expired: tuple[Expired, ...]) -> None:
        for item in expired:
            self.emit(
                BudgetEvent(
                    "reservation_expired",
                    item.scopes[0] if item.scopes else None,
                    reservation_id=item.id,
                    tokens=item.tokens,
                    detail={"scopes": item.scopes},
                )
            )
