"""SessionBudget: atomic token spend per session, user, conversation and globally.

Every reservation is checked and held in one atomic step of the ledger (a lock, a SQLite
``BEGIN IMMEDIATE`` transaction, or a Redis Lua script), against every applicable cap, quota
and rate limit at once, so concurrent calls in threads, processes or hosts cannot overspend.
"""

from __future__ import annotations

import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Literal

from .._errors import ConfigurationError
from ..models import Catalogue
from ..tokenizers import get_tokenizer
from ..typing import Tokenizer
from ._async import AsyncBudget
from ._child import Nesting
from ._direct import DirectSpend
from ._events import EventHub, status_of
from ._pricing import Pricer, PriceTable
from ._reservation import Reservation, rollback_open
from ._scopes import LimitCache, id_scope, idempotent_id, named_scope, unescape_id
from ._settings import BudgetSettings
from ._steps import Steps, call, run
from ._values import (
    SYSTEM_SESSION,
    BudgetEvent,
    BudgetStatus,
    EventName,
    Quota,
    check_id,
    check_seconds,
    check_tokens,
)
from ._window import ContextWindow, Forecast, announced_window
from .ledgers import Ledger, Limit, ScopeRecord, SettleOutcome, ledger_from_url
from .ledgers._owner import this_process

__all__ = ["SessionBudget"]


class SessionBudget(AsyncBudget, Nesting, DirectSpend):
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
        prices: your prices, consulted before the catalogue: model -> (USD per 1M input
            tokens, per 1M output tokens[, per 1M cached input tokens[, per 1M cache-write
            tokens]]); dated variants of a name resolve to it.
        catalogue: what prices the other models (:mod:`ctxbudget.models`): a ``Catalogue``,
            or a JSON file (litellm's format) laid over the default catalogue. A call whose
            model neither knows, or has no model, costs ``None``: ``calls_unpriced`` counts
            it and ``unknown_model`` fires once per model.
        tokenizer: measures prompts in :func:`~ctxbudget.guard` (default ``"o200k_base"``).
        settings: defaults (:class:`~ctxbudget.BudgetSettings`, read from ``CTXBUDGET_*``
            environment variables when not given).

    Raises:
        LedgerError: the ledger's store cannot be opened.
        ConfigurationError: the ledger URL's scheme or an option of it is unknown or invalid,
            a cap or ratio is out of range, a price entry is malformed, or the catalogue file
            cannot be read.

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
        prices: PriceTable | None = None,
        catalogue: Catalogue | str | os.PathLike[str] | None = None,
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
        self.user_quota = user_quota
        self.user_tokens_per_minute = user_tokens_per_minute
        self.session_tokens_per_minute = session_tokens_per_minute
        for name in ("session_cap", "user_cap", "conversation_cap", "global_cap",
                     "user_tokens_per_minute", "session_tokens_per_minute"):  # fmt: skip
            if (value := getattr(self, name)) is not None:
                check_tokens(value, name)
        ratio = settings.soft_warn_ratio if soft_warn_ratio is None else soft_warn_ratio
        if not isinstance(ratio, (int, float)) or not 0 < ratio <= 1 or math.isnan(ratio):
            raise ConfigurationError(f"soft_warn_ratio must be in (0, 1], got {ratio!r}")
        self.soft_warn_ratio = float(ratio)
        self.lease_s = settings.reservation_lease_s if lease_s is None else float(lease_s)
        self.retention_s = settings.retention_s if retention_s is None else float(retention_s)
        check_seconds(self.lease_s, "lease_s", lease_s)
        check_seconds(self.retention_s, "retention_s", retention_s)
        self.pricer = Pricer(prices, catalogue)
        self.prices, self.catalogue = self.pricer.prices, self.pricer.catalogue
        self.tokenizer = get_tokenizer(tokenizer)
        self._events = EventHub(self.ledger, self.soft_warn_ratio)
        self._lock = threading.Lock()
        self._windows: dict[str, ContextWindow] = {}
        #: Reservations made with an idempotency key, while they live.
        self._replays: weakref.WeakValueDictionary[str, Reservation] = weakref.WeakValueDictionary()
        self._limit_cache = LimitCache()
        self.clock: Callable[[], float] = time.time

    # -- events --------------------------------------------------------------------------

    def on(self, event: EventName, callback: Callable[[BudgetEvent], None]) -> None:
        """Call ``callback(BudgetEvent)`` on ``event``.

        ``soft_warned`` and ``exhausted`` fire once per scope (per period for period scopes),
        in the process whose step crossed the line, also when one call jumps from below the
        soft-warn share straight past the cap (then both fire, soft warning first).
        ``exhausted`` also fires, once, when a reservation is refused because the scope's
        committed spend leaves less room than it asked for (see :class:`BudgetStatus`).
        ``overspent`` fires whenever a commit or record pushes a scope's ``used + reserved``
        past its cap (a commit after its lease was reclaimed, more than was reserved, a
        ``record``), with the numbers (see :class:`BudgetEvent`). ``reservation_expired``
        fires in the process that reclaims an expired lease. ``not_durable`` fires once, at
        the first step after the ledger found it may lose spend on a restart (Redis with no
        persistence). ``committed`` fires after every commit, record and charge. An exception
        in a callback propagates to the caller after the ledger step is done.

        Raises:
            ConfigurationError: unknown event name (the message lists the known ones).
        """
        self._events.on(event, callback)

    def _emit(self, event: BudgetEvent) -> None:
        self._events.emit(event)

    def _after(
        self,
        out: SettleOutcome,
        reservation_id: str | None = None,
        *,
        unpriced: tuple[str | None, str] | None = None,
    ) -> None:
        """Fire a settled step's events; ``unpriced``: ``(model, scope)`` of an unknown cost."""
        self._events.settled(out, reservation_id)
        if unpriced is not None and self.pricer.first_unpriced(unpriced[0]):
            close = self.catalogue.suggestions(unpriced[0]) if unpriced[0] else []
            self._events.unpriced(*unpriced, reservation_id, close)

    # -- scopes --------------------------------------------------------------------------

    def _limits(
        self, session: str, user: str | None, conversation: str | None
    ) -> tuple[Limit, ...]:
        return self._limit_cache.limits(self, session, user, conversation, self.clock())

    # -- spending ------------------------------------------------------------------------

    def reserve(
        self,
        tokens: int,
        *,
        session: str,
        user: str | None = None,
        conversation: str | None = None,
        heartbeat: bool = True,
        idempotency_key: str | None = None,
    ) -> Reservation:
        """Atomically check every applicable cap, quota and rate limit, and hold ``tokens``.

        The hold lasts while the returned :class:`Reservation` is alive and unsettled: the
        process's heartbeat renews its lease every ``lease_s / 3`` seconds, and memory and
        SQLite ledgers never reclaim the hold of a process still running. A reservation
        dropped unsettled is rolled back (a warning is logged).

        Args:
            tokens: tokens to hold (prompt plus maximum output), 1 to 2**48.
            session: the session id (use ``SessionBudget.SYSTEM_SESSION`` for background work).
            user: the user id, or ``None``.
            conversation: the conversation id, or ``None``.
            heartbeat: ``False`` for a manual lease: the hold expires ``lease_s`` seconds
                after the last :meth:`Reservation.renew` (or the reserve), whoever holds it.
            idempotency_key: for callers that retry: a replay with the same key and scopes
                holds nothing more and returns the same reservation (the same object while it
                lives in this process); its commit, once done, is not done twice.

        Returns:
            A :class:`Reservation` to commit or roll back.

        Raises:
            BudgetExhausted: a scope would pass its cap; it names the scope, used, reserved,
                cap, requested, and what to do. Nothing is held.
            ConfigurationError: ``tokens`` or an id is invalid.
            LedgerError: the ledger failed (Redis down fails closed unless ``fail_open``).
        """
        steps = self._reserve_steps(
            tokens,
            session,
            user,
            conversation,
            heartbeat=heartbeat,
            idempotency_key=idempotency_key,
        )
        return run(self.ledger, steps)

    def _reserve_steps(
        self,
        tokens: int,
        session: str,
        user: str | None,
        conversation: str | None,
        *,
        heartbeat: bool,
        idempotency_key: str | None,
    ) -> Steps[Reservation]:
        """:meth:`reserve` as ledger steps (:mod:`._steps`: run by ``reserve`` and
        ``areserve``)."""
        check_tokens(tokens, "tokens")
        limits = self._limits(session, user, conversation)
        return self._hold(tokens, limits, heartbeat=heartbeat, idempotency_key=idempotency_key)

    def _hold(
        self,
        tokens: int,
        limits: tuple[Limit, ...],
        *,
        heartbeat: bool,
        idempotency_key: str | None,
    ) -> Steps[Reservation]:
        """The one ledger step of every reservation (of the budget's own scopes or of a nested
        budget's chain), its events, and the :class:`Reservation` that holds it."""
        reservation_id = os.urandom(16).hex()  # 128 random bits, as uuid4 (cheaper)
        if idempotency_key is not None:
            reservation_id = idempotent_id(limits, idempotency_key)
            live = self._replays.get(reservation_id)
            if live is not None:
                return live
        owner = this_process() if heartbeat else None
        out = yield call("reserve", reservation_id, tokens, limits, self.lease_s, owner)
        self._events.durability()
        self._events.expired(out.expired)
        if not out.ok:
            self._events.refuse(out, tokens)
        reservation = Reservation(
            self,
            reservation_id,
            tokens,
            limits,
            heartbeat=heartbeat,
            idempotent=idempotency_key is not None,
        )
        if idempotency_key is not None:
            self._replays[reservation_id] = reservation
        return reservation

    def reap(self) -> int:
        """Reclaim expired reservations and forget scopes past retention; returns how many
        reservations expired (each also fires ``reservation_expired``)."""
        return run(self.ledger, self._reap_steps())

    def _reap_steps(self) -> Steps[int]:
        expired = yield call("expire")
        self._events.expired(expired)
        return len(expired)

    # -- reading -------------------------------------------------------------------------

    def _status(self, record: ScopeRecord) -> BudgetStatus:
        return status_of(record, self.soft_warn_ratio)

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
            ConfigurationError: not exactly one of the arguments is given.
            LedgerError: the ledger failed.
        """
        steps = self._status_steps(session, user=user, conversation=conversation, scope=scope)
        return run(self.ledger, steps)

    def _status_steps(
        self,
        session: str | None = None,
        *,
        user: str | None = None,
        conversation: str | None = None,
        scope: str | None = None,
    ) -> Steps[BudgetStatus]:
        kind, name = named_scope(session=session, user=user, conversation=conversation, scope=scope)
        record = yield call("status", name)
        if record is None:
            caps = {"session": self.session_cap, "user": self.user_cap}
            caps["conversation"] = self.conversation_cap
            record = ScopeRecord(name, cap=self.global_cap if name == "global" else caps.get(kind))
        return self._status(record)

    def sessions(self) -> list[str]:
        """Ids of the sessions the ledger keeps, sorted."""
        names = [s.removeprefix("session:") for s in self.ledger.scopes("session:")]
        return [unescape_id(s) for s in names if ":" not in s]  # ":" starts a child's name

    def reset(self, session: str) -> bool:
        """Forget a session's spend (it starts from zero); ``True`` if it had any."""
        return self.ledger.reset(id_scope("session", session))

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
            ConfigurationError: the conversation id, window, threshold or turns are invalid.
        """
        conversation = check_id(conversation, "conversation")
        with self._lock:
            window = self._windows.get(conversation)
            if window is None:
                window = self._windows[conversation] = announced_window(
                    conversation,
                    id_scope("conversation", conversation),
                    window_tokens,
                    threshold=threshold,
                    turns=turns,
                    summarize=summarize,
                    emit=self._emit,
                )
            return window

    def close(self) -> None:
        """Roll back the reservations still open in this budget's ledger (nothing is
        recorded for them, as when a ``with`` block ends without a commit), stop their
        heartbeat, and close the ledger (its connections); the budget is unusable afterwards.

        Raises:
            LedgerError: the ledger failed while rolling back (it is closed all the same).
        """
        try:
            rollback_open(self.ledger)
        finally:
            self.ledger.close()

    def __enter__(self) -> SessionBudget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
