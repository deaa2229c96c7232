"""The session budget's value objects and argument checks: quotas, statuses, events."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, get_args

from .._errors import ConfigurationError
from .._validate import whole_number

__all__ = [
    "EVENTS",
    "MAX_TOKENS",
    "SYSTEM_SESSION",
    "BudgetEvent",
    "BudgetStatus",
    "EventName",
    "Quota",
    "State",
    "check_id",
    "check_tokens",
    "utc",
]

#: Largest token count accepted anywhere (2**48): exact in every ledger's arithmetic (Redis Lua
#: numbers are doubles) and far beyond any real budget.
MAX_TOKENS = 2**48
#: The session of background work (summaries, compaction): no session cap, global cap applies.
SYSTEM_SESSION = "__system__"

State = Literal["active", "near_cap", "exhausted"]
EventName = Literal[
    "committed",
    "soft_warned",
    "exhausted",
    "overspent",
    "reservation_expired",
    "not_durable",
    "summarization_triggered",
    "unknown_model",
]
EVENTS: tuple[EventName, ...] = get_args(EventName)


@dataclass(frozen=True)
class Quota:
    """A user's token quota per calendar period in UTC (``"day"`` or ``"month"``)."""

    tokens: int
    period: Literal["day", "month"] = "day"

    def __post_init__(self) -> None:
        check_tokens(self.tokens, "quota tokens")
        if self.period not in ("day", "month"):
            raise ConfigurationError(f"quota period must be 'day' or 'month', got {self.period!r}")


@dataclass(frozen=True)
class BudgetStatus:
    """The spend of one scope. Tokens in tokens, cost in US dollars, times as UTC datetimes.

    Attributes:
        scope: ``"session:<id>"``, ``"user:<id>"``, ``"conversation:<id>"``, ``"global"``, or a
            period or rate scope (``"user:<id>@day:2026-11-21"``, ``"rate:user:<id>@<minute>"``).
        used: tokens committed.
        reserved: tokens held by open reservations.
        remaining: ``cap - used - reserved`` (never negative), or ``None`` without a cap.
        cap: the cap, or ``None``.
        calls: committed calls.
        input_tokens, output_tokens: committed usage by direction (input counts every input
            token, cached ones included: they fill the window like any other).
        cost: the sum, in US dollars, of the costs that are known (your ``prices``, then the
            model catalogue); calls of an unknown or missing model add nothing to it and are
            counted in ``calls_unpriced`` instead, so ``cost`` is exact only when that is 0.
        created, updated: first and last change, or ``None`` for a scope never used.
        state: ``"exhausted"`` when used >= cap, or when the scope refused a reservation that
            its committed spend left no room for (``cap - used < tokens`` asked: a call of
            that size can never fit; refusals caused only by other open reservations do not
            count); ``"near_cap"`` (used >= soft-warn share of the cap); else ``"active"``.
        overspent: tokens by which commits and records pushed ``used + reserved`` past the
            cap, summed over every such step (a commit after its lease was reclaimed, a
            commit of more than was reserved, a :meth:`~SessionBudget.record`); 0 when the
            cap was never passed.
        overspends: how many steps did.
        cached_input_tokens: of ``input_tokens``, those read from a prompt cache (billed at
            the model's cached rate).
        cache_write_tokens: of ``input_tokens``, those written to a prompt cache (billed at
            the model's cache-write rate).
        calls_unpriced: committed calls whose cost is unknown (no model given, or a model
            neither your prices nor the catalogue knows); see the ``unknown_model`` event.
    """

    scope: str
    used: int
    reserved: int
    remaining: int | None
    cap: int | None
    calls: int
    input_tokens: int
    output_tokens: int
    cost: float
    created: datetime | None
    updated: datetime | None
    state: State
    overspent: int = 0
    overspends: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    calls_unpriced: int = 0

    @property
    def fill(self) -> float | None:
        """``(used + reserved) / cap``, or ``None`` without a cap."""
        return (self.used + self.reserved) / self.cap if self.cap else None


@dataclass(frozen=True)
class BudgetEvent:
    """What a callback registered with :meth:`SessionBudget.on` receives.

    Attributes:
        name: the event name.
        scope: the scope concerned (``"conversation:<id>"`` for ``summarization_triggered``,
            ``None`` for ``not_durable``; for ``committed`` the first scope charged, the
            session's).
        status: the scope's status right after the step (``None`` for expiries and
            ``committed``).
        reservation_id: the reservation concerned, for ``committed``,
            ``reservation_expired``, ``overspent`` and ``unknown_model`` (``None`` for
            :meth:`~SessionBudget.record`).
        tokens: for ``committed`` the tokens spent (input + output); tokens of the expired
            reservation; for ``overspent`` the tokens this step put beyond the cap; the
            predicted context size for ``summarization_triggered``.
        detail: event-specific data: for ``committed`` ``scopes`` (every scope charged, a
            tuple of str), ``input_tokens``, ``output_tokens``, ``cached_input_tokens``,
            ``cache_write_tokens`` (ints, tokens), ``model`` (str or ``None``), ``cost`` (US
            dollars, ``None`` when unknown) and ``lease_had_expired`` (bool); for
            ``overspent`` ``cause`` (``"lease_lost"``,
            ``"over_reservation"`` or ``"unreserved"``), ``spent`` and ``cap``; for
            ``not_durable`` ``message`` and ``ledger`` (its URL); for a trigger the
            conversation and forecast; for ``unknown_model`` ``model`` (``None`` when no
            model was given), ``suggestions`` (close known names) and ``message``.
    """

    name: EventName
    scope: str | None = None
    status: BudgetStatus | None = None
    reservation_id: str | None = None
    tokens: int | None = None
    detail: Mapping[str, Any] | None = None


def check_seconds(value: float, what: str, given: object) -> None:
    """Check that ``value`` (taken from ``given``) is a positive, finite number of seconds.

    Raises:
        ConfigurationError: naming ``what`` and the value given.
    """
    if not (value > 0 and math.isfinite(value)):
        raise ConfigurationError(f"{what} must be a positive number of seconds, got {given!r}")


def check_tokens(value: object, what: str, *, allow_zero: bool = False) -> int:
    """``value`` if it is a whole number of tokens from 1 (or 0) to :data:`MAX_TOKENS`.

    Raises:
        ConfigurationError: naming ``what`` and the value.
    """
    value = whole_number(value, what, minimum=0 if allow_zero else 1, unit="tokens")
    if value > MAX_TOKENS:
        raise ConfigurationError(f"{what} must be at most 2**48 tokens, got {value}")
    return value


def check_id(value: object, what: str) -> str:
    """``value`` if it is a usable id: a non-empty string of at most 256 characters, without
    control characters.

    Raises:
        ConfigurationError: naming ``what`` and the value.
    """
    if not isinstance(value, str) or not value or len(value) > 256:
        raise ConfigurationError(
            f"{what} must be a non-empty string of at most 256 characters, got {value!r}"
        )
    if any(ord(ch) < 32 for ch in value):
        raise ConfigurationError(f"{what} must not contain control characters, got {value!r}")
    return value


def utc(ts: float) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc) if ts else None
