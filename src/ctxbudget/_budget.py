"""SessionBudget: atomic token spend per session, user, conversation and globally.

Every reservation is checked and held in one atomic step of the ledger (a lock, a SQLite
``BEGIN IMMEDIATE`` transaction, or a Redis Lua script), against every applicable cap, quota
and rate limit at once, so concurrent calls in threads, processes or hosts cannot overspend.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from ._errors import BudgetError, BudgetExhausted, ReservationError
from ._pricing import DEFAULT_PRICES, estimate_cost
from ._settings import BudgetSettings
from ._tokenizers import get_tokenizer
from ._window import ContextWindow, Forecast
from .ledgers import Ledger, Limit, ScopeRecord, ledger_from_url
from .ledgers._base import Expired, SettleOutcome
from .typing import Tokenizer

__all__ = [
    "BudgetEvent",
    "BudgetStatus",
    "EventName",
    "Quota",
    "Reservation",
    "SessionBudget",
    "State",
]

#: Largest token count accepted anywhere (2**48): exact in every ledger's arithmetic (Redis Lua
#: numbers are doubles) and far beyond any real budget.
MAX_TOKENS = 2**48
#: The session of background work (summaries, compaction): no session cap, global cap applies.
SYSTEM_SESSION = "__system__"

State = Literal["active", "near_cap", "exhausted"]
EventName = Literal["soft_warned", "exhausted", "reservation_expired", "summarization_triggered"]
_EVENTS = ("soft_warned", "exhausted", "reservation_expired", "summarization_triggered")


@dataclass(frozen=True)
class Quota:
    """A user's token quota per calendar period in UTC (``"day"`` or ``"month"``)."""

    tokens: int
    period: Literal["day", "month"] = "day"

    def __post_init__(self) -> None:
        _check_tokens(self.tokens, "quota tokens")
        if self.period not in ("day", "month"):
            raise BudgetError(f"quota period must be 'day' or 'month', got {self.period!r}")


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
        input_tokens, output_tokens: committed usage by direction.
        cost: estimated cost from the price table.
        created, updated: first and last change, or ``None`` for a scope never used.
        state: ``"exhausted"`` (used >= cap), ``"near_cap"`` (used >= soft-warn share of the
            cap), else ``"active"``.
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

    @property
    def fill(self) -> float | None:
        """``(used + reserved) / cap``, or ``None`` without a cap."""
        return (self.used + self.reserved) / self.cap if self.cap else None


@dataclass(frozen=True)
class BudgetEvent:
    """What a callback registered with :meth:`SessionBudget.on` receives.

    Attributes:
        name: the event name.
        scope: the scope concerned (``"conversation:<id>"`` for ``summarization_triggered``).
        status: the scope's status right after the step (``None`` for expiries).
        reservation_id: the reservation concerned, for ``reservation_expired``.
        tokens: tokens of the expired reservation, or the predicted context size for
            ``summarization_triggered``.
        detail: event-specific data (e.g. the conversation and window of a trigger).
    """

    name: EventName
    scope: str | None = None
    status: BudgetStatus | None = None
    reservation_id: str | None = None
    tokens: int | None = None
    detail: Mapping[str, Any] | None = None


def _check_tokens(value: object, what: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BudgetError(f"{what} must be a whole number of tokens, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        lowest = "0" if allow_zero else "1"
        raise BudgetError(f"{what} must be at least {lowest}, got {value}")
    if value > MAX_TOKENS:
        raise BudgetError(f"{what} must be at most 2**48 tokens, got {value}")
    return value


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 256:
        raise BudgetError(
            f"{what} must be a non-empty string of at most 256 characters, got {value!r}"
        )
    if any(ord(ch) < 32 for ch in value):
        raise BudgetError(f"{what} must not contain control characters, got {value!r}")
    return value


def _utc(ts: float) -> datetime | None:
    return datetime.fromtimestamp(ts, tz=timezone.utc) if ts else None


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
        self, budget: SessionBudget, reservation_id: str, tokens: int, limits: tuple[Limit, ...]
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
            BudgetError: a token count is not a whole number in range.
            LedgerError: the ledger failed.
        """
        self._settled_check("commit")
        _check_tokens(input_tokens, "input_tokens", allow_zero=True)
        _check_tokens(output_tokens, "output_tokens", allow_zero=True)
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


class SessionBudget:
    """Cumulative token spend per session, user, conversation and globally, never overspent.

    Args:
        ledger: a :class:`~ctxbudget.ledgers.Ledger`, a ledger URL, or ``None`` for the
            settings' ``ledger_url`` (default ``memory://``).
        session_cap: tokens per session (default from settings: 100,000); ``None``: no cap.
        user_cap: tokens per user over their whole history, or ``None``.
        conversation_cap: tokens per conversation, or ``None``.
        global_cap: tokens across everything, or ``None``.
        user_quota: tokens per user per UTC day or month (:class:`Quota`), or ``None``.
        user_tokens_per_minute: rate limit per user, in tokens per clock minute (UTC), or
            ``None``. Tokens count in the minute they were reserved (fixed windows).
        session_tokens_per_minute: the same per session, or ``None``.
        soft_warn_ratio: share of a cap at which ``soft_warned`` fires (default 0.8).
        lease_s: seconds a reservation holds tokens before it expires (default 300).
        retention_s: seconds a scope is kept after its last update (default 7 days).
        prices: model -> (USD per 1M input tokens, per 1M output tokens); default
            :data:`~ctxbudget._pricing.DEFAULT_PRICES`.
        tokenizer: measures prompts in :func:`~ctxbudget.guard` (default ``"o200k_base"``).
        settings: defaults (:class:`~ctxbudget.BudgetSettings`, read from ``CTXBUDGET_*``
            environment variables when not given).

    Raises:
        LedgerError: the ledger URL is unknown or its store cannot be opened.
        BudgetError: a cap or ratio is out of range.

    >>> budget = SessionBudget("memory://", session_cap=1000)
    >>> with budget.reserve(300, session="s1") as r:
    ...     r.commit(input_tokens=120, output_tokens=80)
    >>> budget.status("s1").used
    200
    """

    SYSTEM_SESSION = SYSTEM_SESSION

    def __init__(
        self,
        ledger: Ledger | str | None = None,
        *,
        session_cap: int | Literal["default"] | None = "default",
        user_cap: int | None = None,
        conversation_cap: int | None = None,
        global_cap: int | None = None,
        user_quota: Quota | None = None,
        user_tokens_per_minute: int | None = None,
        session_tokens_per_minute: int | None = None,
        soft_warn_ratio: float | None = None,
        lease_s: float | None = None,
        retention_s: float | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
        tokenizer: str | Tokenizer | Any = "o200k_base",
        settings: BudgetSettings | None = None,
    ) -> None:
        settings = settings if settings is not None else BudgetSettings()
        self.settings = settings
        if ledger is None:
            ledger = settings.ledger_url
        self.ledger = ledger_from_url(ledger) if isinstance(ledger, str) else ledger
        self.session_cap = settings.session_token_cap if session_cap == "default" else session_cap
        self.user_cap = user_cap
        self.conversation_cap = conversation_cap
        self.global_cap = global_cap
        for name in ("session_cap", "user_cap", "conversation_cap", "global_cap"):
            value = getattr(self, name)
            if value is not None:
                _check_tokens(value, name)
        self.user_quota = user_quota
        self.user_tokens_per_minute = user_tokens_per_minute
        self.session_tokens_per_minute = session_tokens_per_minute
        for name in ("user_tokens_per_minute", "session_tokens_per_minute"):
            value = getattr(self, name)
            if value is not None:
                _check_tokens(value, name)
        ratio = settings.soft_warn_ratio if soft_warn_ratio is None else soft_warn_ratio
        if not isinstance(ratio, (int, float)) or not 0 < ratio <= 1 or math.isnan(ratio):
            raise BudgetError(f"soft_warn_ratio must be in (0, 1], got {ratio!r}")
        self.soft_warn_ratio = float(ratio)
        self.lease_s = settings.reservation_lease_s if lease_s is None else float(lease_s)
        self.retention_s = settings.retention_s if retention_s is None else float(retention_s)
        if not (self.lease_s > 0 and math.isfinite(self.lease_s)):
            raise BudgetError(f"lease_s must be a positive number of seconds, got {lease_s!r}")
        if not (self.retention_s > 0 and math.isfinite(self.retention_s)):
            raise BudgetError(
                f"retention_s must be a positive number of seconds, got {retention_s!r}"
            )
        self.prices = dict(DEFAULT_PRICES if prices is None else prices)
        self.tokenizer = get_tokenizer(tokenizer)
        self._callbacks: dict[str, list[Callable[[BudgetEvent], None]]] = {e: [] for e in _EVENTS}
        self._lock = threading.Lock()
        self._windows: dict[str, ContextWindow] = {}
        self.clock: Callable[[], float] = time.time

    # -- events --------------------------------------------------------------------------

    def on(self, event: EventName, callback: Callable[[BudgetEvent], None]) -> None:
        """Call ``callback(BudgetEvent)`` on ``event``.

        ``soft_warned`` and ``exhausted`` fire once per scope (per period for period scopes),
        in the process whose step crossed the line, also when one call jumps from below the
        soft-warn share straight past the cap (then both fire, soft warning first).
        ``reservation_expired`` fires in the process that reclaims an expired lease.
        An exception in a callback propagates to the caller after the ledger step is done.

        Raises:
            BudgetError: unknown event name (the message lists the known ones).
        """
        if event not in self._callbacks:
            raise BudgetError(f"unknown event {event!r}; events: {', '.join(_EVENTS)}")
        with self._lock:
            self._callbacks[event].append(callback)

    def _emit(self, event: BudgetEvent) -> None:
        for callback in list(self._callbacks[event.name]):
            callback(event)

    def _after(self, out: SettleOutcome) -> None:
        self._expired(out.expired)
        for record in out.soft_warned:
            self._emit(BudgetEvent("soft_warned", record.scope, self._status(record)))
        for record in out.exhausted:
            self._emit(BudgetEvent("exhausted", record.scope, self._status(record)))

    def _expired(self, expired: tuple[Expired, ...]) -> None:
        for item in expired:
            self._emit(
                BudgetEvent(
                    "reservation_expired",
                    item.scopes[0] if item.scopes else None,
                    reservation_id=item.id,
                    tokens=item.tokens,
                    detail={"scopes": item.scopes},
                )
            )

    # -- scopes --------------------------------------------------------------------------

    def _limits(
        self, session: str, user: str | None, conversation: str | None
    ) -> tuple[Limit, ...]:
        session = _check_id(session, "session")
        keep = self.retention_s
        system = session == SYSTEM_SESSION
        limits = [Limit(f"session:{session}", None if system else self.session_cap, keep)]
        timestamp = self.clock()  # one reading: the day and the minute must agree
        now = datetime.fromtimestamp(timestamp, tz=timezone.utc)
        minute = int(timestamp // 60)
        if self.session_tokens_per_minute is not None and not system:
            limits.append(
                Limit(f"rate:session:{session}@{minute}", self.session_tokens_per_minute, 120.0)
            )
        if user is not None:
            user = _check_id(user, "user")
            limits.append(Limit(f"user:{user}", self.user_cap, keep))
            if self.user_quota is not None:
                period = now.strftime("%Y-%m-%d" if self.user_quota.period == "day" else "%Y-%m")
                length = 86_400.0 if self.user_quota.period == "day" else 31 * 86_400.0
                limits.append(
                    Limit(
                        f"user:{user}@{self.user_quota.period}:{period}",
                        self.user_quota.tokens,
                        length + keep,
                    )
                )
            if self.user_tokens_per_minute is not None:
                limits.append(
                    Limit(f"rate:user:{user}@{minute}", self.user_tokens_per_minute, 120.0)
                )
        if conversation is not None:
            conversation = _check_id(conversation, "conversation")
            limits.append(Limit(f"conversation:{conversation}", self.conversation_cap, keep))
        limits.append(Limit("global", self.global_cap, keep))
        return tuple(limits)

    # -- spending ------------------------------------------------------------------------

    def reserve(
        self,
        tokens: int,
        *,
        session: str,
        user: str | None = None,
        conversation: str | None = None,
    ) -> Reservation:
        """Atomically check every applicable cap, quota and rate limit, and hold ``tokens``.

        Args:
            tokens: tokens to hold (prompt plus maximum output), 1 to 2**48.
            session: the session id (use ``SessionBudget.SYSTEM_SESSION`` for background work).
            user: the user id, or ``None``.
            conversation: the conversation id, or ``None``.

        Returns:
            A :class:`Reservation` to commit or roll back.

        Raises:
            BudgetExhausted: a scope would pass its cap; it names the scope, used, reserved,
                cap, requested, and what to do. Nothing is held.
            BudgetError: ``tokens`` or an id is invalid.
            LedgerError: the ledger failed (Redis down fails closed unless ``fail_open``).
        """
        _check_tokens(tokens, "tokens")
        limits = self._limits(session, user, conversation)
        reservation_id = uuid.uuid4().hex
        out = self.ledger.reserve(reservation_id, tokens, limits, self.lease_s)
        self._expired(out.expired)
        if not out.ok:
            refused = out.refused
            assert refused is not None
            assert refused.cap is not None
            raise BudgetExhausted(
                scope=refused.scope,
                used=refused.used,
                reserved=refused.reserved,
                cap=refused.cap,
                requested=tokens,
            )
        return Reservation(self, reservation_id, tokens, limits)

    def record(
        self,
        input_tokens: int,
        output_tokens: int,
        *,
        session: str,
        user: str | None = None,
        conversation: str | None = None,
        model: str | None = None,
    ) -> None:
        """Record usage known after the fact, with no reservation and no check.

        Raises:
            BudgetError: a token count or id is invalid.
            LedgerError: the ledger failed.
        """
        _check_tokens(input_tokens, "input_tokens", allow_zero=True)
        _check_tokens(output_tokens, "output_tokens", allow_zero=True)
        limits = self._limits(session, user, conversation)
        cost = estimate_cost(model, input_tokens, output_tokens, self.prices)
        out = self.ledger.record(limits, input_tokens, output_tokens, cost, self.soft_warn_ratio)
        self._after(out)

    def reap(self) -> int:
        """Reclaim expired reservations and forget scopes past retention; returns how many
        reservations expired (each also fires ``reservation_expired``)."""
        expired = self.ledger.expire()
        self._expired(expired)
        return len(expired)

    # -- reading -------------------------------------------------------------------------

    def _status(self, record: ScopeRecord) -> BudgetStatus:
        cap = record.cap
        if cap is not None and record.used >= cap:
            state: State = "exhausted"
        elif cap is not None and record.used >= self.soft_warn_ratio * cap:
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
            created=_utc(record.created),
            updated=_utc(record.updated),
            state=state,
        )

    def status(
        self,
        session: str | None = None,
        *,
        user: str | None = None,
        conversation: str | None = None,
        scope: str | None = None,
    ) -> BudgetStatus:
        """The status of one scope: a session, a user, a conversation, or a scope name
        (``"global"``, ``"user:u1@day:2026-11-21"``). A scope never used reads as zero.

        Raises:
            BudgetError: not exactly one of the arguments is given.
            LedgerError: the ledger failed.
        """
        given = [
            (k, v)
            for k, v in (
                ("session", session),
                ("user", user),
                ("conversation", conversation),
                ("scope", scope),
            )
            if v is not None
        ]
        if len(given) != 1:
            raise BudgetError("give exactly one of session, user, conversation or scope")
        kind, value = given[0]
        name = value if kind == "scope" else f"{kind}:{_check_id(value, kind)}"
        record = self.ledger.status(name)
        if record is None:
            caps = {
                "session": self.session_cap,
                "user": self.user_cap,
                "conversation": self.conversation_cap,
            }
            cap = self.global_cap if name == "global" else caps.get(kind)
            record = ScopeRecord(name, cap=cap)
        return self._status(record)

    def sessions(self) -> list[str]:
        """Ids of the sessions the ledger keeps, sorted."""
        return [s.removeprefix("session:") for s in self.ledger.scopes("session:")]

    def reset(self, session: str) -> bool:
        """Forget a session's spend (it starts from zero); ``True`` if it had any."""
        return self.ledger.reset(f"session:{_check_id(session, 'session')}")

    # -- the summarization trigger ---------------------------------------------------------

    def context_window(
        self,
        conversation: str,
        window_tokens: int,
        *,
        threshold: float = 0.85,
        turns: int = 5,
        summarize: Callable[[Forecast], None] | None = None,
    ) -> ContextWindow:
        """The :class:`~ctxbudget.ContextWindow` of a conversation, created on first call.

        When it predicts the next turn will reach ``threshold`` of ``window_tokens``, it calls
        ``summarize(forecast)`` and fires ``summarization_triggered`` (``tokens`` is the
        predicted size). Windows live in this process; call ``observe(tokens)`` after each turn.

        Raises:
            BudgetError: the conversation id, window, threshold or turns are invalid.
        """
        conversation = _check_id(conversation, "conversation")
        with self._lock:
            window = self._windows.get(conversation)
            if window is None:

                def triggered(forecast: Forecast) -> None:
                    if summarize is not None:
                        summarize(forecast)
                    self._emit(
                        BudgetEvent(
                            "summarization_triggered",
                            f"conversation:{conversation}",
                            tokens=int(forecast.predicted),
                            detail={"conversation": conversation, "forecast": forecast},
                        )
                    )

                window = ContextWindow(
                    window_tokens, threshold=threshold, turns=turns, on_trigger=triggered
                )
                self._windows[conversation] = window
            return window

    def close(self) -> None:
        """Close the ledger."""
        self.ledger.close()
