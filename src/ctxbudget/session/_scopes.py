"""Scopes: which caps, quotas and rate limits one call is charged against, by name.

A call in session ``s`` for user ``u`` and conversation ``c`` touches the scopes
``session:s``, ``user:u``, its period quota ``user:u@day:2026-11-21`` (or ``@month:2026-11``),
its rate windows ``rate:session:s@<minute>`` and ``rate:user:u@<minute>``, ``conversation:c`` and
``global``. Periods and minutes are UTC, taken from one clock reading.

Names are structured, never joined from raw input: an id is escaped (:func:`escape_id`) so that
the separators ``:`` and ``@`` (and the escape character ``%``) in it cannot reach another
scope. User ``bob@day:2026-11-22`` is ``user:bob%40day%3A2026-11-22``, not bob's daily quota.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

from .._errors import ConfigurationError
from ._values import SYSTEM_SESSION, Quota, check_id
from .ledgers import Limit

__all__ = [
    "Caps",
    "LimitCache",
    "escape_id",
    "id_scope",
    "named_scope",
    "scope_limits",
    "unescape_id",
]

_ESCAPES = {"%": "%25", ":": "%3A", "@": "%40"}
_UNESCAPES = {escaped: raw for raw, escaped in _ESCAPES.items()}
_ESCAPED = re.compile("|".join(_UNESCAPES))


def escape_id(value: str) -> str:
    """An id as it stands in a scope name: ``%``, ``:`` and ``@`` percent-encoded."""
    if not any(ch in value for ch in _ESCAPES):
        return value
    return "".join(_ESCAPES.get(ch, ch) for ch in value)


def unescape_id(value: str) -> str:
    """The id of an escaped scope-name part (the inverse of :func:`escape_id`)."""
    if "%" not in value:
        return value
    return _ESCAPED.sub(lambda m: _UNESCAPES[m.group(0)], value)


def id_scope(kind: str, value: object) -> str:
    """The scope name of a session, user or conversation id: ``"session:<escaped id>"``.

    Raises:
        ConfigurationError: the id is empty, too long or has control characters.
    """
    return f"{kind}:{escape_id(check_id(value, kind))}"


def named_scope(**ids: str | None) -> tuple[str, str]:
    """``(kind, scope name)`` of the one id given among ``session``, ``user``,
    ``conversation`` and ``scope`` (a scope name, taken as it is).

    Raises:
        ConfigurationError: not exactly one is given, or the id is invalid.
    """
    given = [(kind, value) for kind, value in ids.items() if value is not None]
    if len(given) != 1:
        raise ConfigurationError("give exactly one of session, user, conversation or scope")
    kind, value = given[0]
    return kind, value if kind == "scope" else id_scope(kind, value)


class Caps(Protocol):
    """The limits a budget applies (a :class:`~ctxbudget.SessionBudget` is one); tokens,
    seconds for ``retention_s``."""

    session_cap: int | None
    user_cap: int | None
    conversation_cap: int | None
    global_cap: int | None
    user_quota: Quota | None
    user_tokens_per_minute: int | None
    session_tokens_per_minute: int | None
    retention_s: float


def scope_limits(
    budget: Caps,
    session: str,
    user: str | None,
    conversation: str | None,
    timestamp: float,
) -> tuple[Limit, ...]:
    """The :class:`~ctxbudget.session.ledgers.Limit` of every scope a call touches.

    Args:
    budget: the caps, quota, rate limits and retention to apply.
    session, user, conversation: the call's ids (user and conversation optional).
    timestamp: now, in Unix seconds: one reading, so the day and the minute agree.

    Raises:
    ConfigurationError: an id is empty, too long or has control characters.
    """
    system = check_id(session, "session") == SYSTEM_SESSION
    session_scope = id_scope("session", session)
    keep = budget.retention_s
    limits = [Limit(session_scope, None if system else budget.session_cap, keep)]
    now = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    minute = int(timestamp // 60)
    if budget.session_tokens_per_minute is not None and not system:
        limits.append(
            Limit(f"rate:{session_scope}@{minute}", budget.session_tokens_per_minute, 120.0)
        )
    if user is not None:
        user_scope = id_scope("user", user)
        limits.append(Limit(user_scope, budget.user_cap, keep))
        quota = budget.user_quota
        if quota is not None:
            period = now.strftime("%Y-%m-%d" if quota.period == "day" else "%Y-%m")
            length = 86_400.0 if quota.period == "day" else 31 * 86_400.0
            limits.append(
                Limit(f"{user_scope}@{quota.period}:{period}", quota.tokens, length + keep)
            )
        if budget.user_tokens_per_minute is not None:
            limits.append(
                Limit(f"rate:{user_scope}@{minute}", budget.user_tokens_per_minute, 120.0)
            )
    if conversation is not None:
        limits.append(Limit(id_scope("conversation", conversation), budget.conversation_cap, keep))
    limits.append(Limit("global", budget.global_cap, keep))
    return tuple(limits)


class LimitCache:
    """The limits of recent calls, so a busy session's scopes are named and checked once a
    minute, not on every call (bounded; cleared when full).

    The key holds the three ids, the clock minute (which fixes the UTC day and month too) and
    every cap, quota, rate limit and the retention, so a budget whose caps are changed never
    reads stale limits. Only ``str`` ids are cached: anything else takes the checked path.

    Args:
        maxsize: most keys kept.
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._data: dict[tuple[Any, ...], tuple[Limit, ...]] = {}
        self._lock = threading.Lock()

    def limits(
        self,
        budget: Caps,
        session: str,
        user: str | None,
        conversation: str | None,
        timestamp: float,
    ) -> tuple[Limit, ...]:
        """:func:`scope_limits` of the call, from the cache when it was asked this minute.

        Raises:
            ConfigurationError: as :func:`scope_limits`.
        """
        if (
            type(session) is not str
            or not (user is None or type(user) is str)
            or not (conversation is None or type(conversation) is str)
        ):
            return scope_limits(budget, session, user, conversation, timestamp)
        key = (
            session,
            user,
            conversation,
            int(timestamp // 60),
            budget.session_cap,
            budget.user_cap,
            budget.conversation_cap,
            budget.global_cap,
            budget.user_quota,
            budget.user_tokens_per_minute,
            budget.session_tokens_per_minute,
            budget.retention_s,
        )
        found = self._data.get(key)
        if found is not None:
            return found
        found = scope_limits(budget, session, user, conversation, timestamp)
        with self._lock:
            if len(self._data) >= self.maxsize:
                self._data.clear()
            self._data[key] = found
        return found


def idempotent_id(limits: Sequence[Limit], key: object) -> str:
    """The reservation id of an idempotency key: 32 hex digits of the sha256 of the key and
    the scopes it holds in (so one key in two sessions is two reservations).

    Raises:
        ConfigurationError: the key is not a non-empty str of at most 256 characters.
    """
    import hashlib

    if not isinstance(key, str) or not key or len(key) > 256:
        raise ConfigurationError(
            f"idempotency_key must be a str of 1 to 256 characters, got {key!r:.80}"
        )
    scopes = "\x1f".join(limit.scope for limit in limits)
    return hashlib.sha256(f"{scopes}\x1e{key}".encode()).hexdigest()[:32]
