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
from datetime import datetime, timezone
from typing import Protocol

from ._values import SYSTEM_SESSION, Quota, check_id
from .ledgers import Limit

__all__ = ["Caps", "escape_id", "id_scope", "scope_limits", "unescape_id"]

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
