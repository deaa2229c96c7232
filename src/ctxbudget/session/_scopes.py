"""Scopes: which caps, quotas and rate limits one call is charged against, by name.

A call in session ``s`` for user ``u`` and conversation ``c`` touches the scopes
``session:s``, ``user:u``, its period quota ``user:u@day:2026-11-21`` (or ``@month:2026-11``),
its rate windows ``rate:session:s@<minute>`` and ``rate:user:u@<minute>``, ``conversation:c`` and
``global``. Periods and minutes are UTC, taken from one clock reading.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol

from ._values import SYSTEM_SESSION, Quota, check_id
from .ledgers import Limit

__all__ = ["Caps", "scope_limits"]


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
    session = check_id(session, "session")
    keep = budget.retention_s
    system = session == SYSTEM_SESSION
    limits = [Limit(f"session:{session}", None if system else budget.session_cap, keep)]
    now = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    minute = int(timestamp // 60)
    if budget.session_tokens_per_minute is not None and not system:
        limits.append(
            Limit(f"rate:session:{session}@{minute}", budget.session_tokens_per_minute, 120.0)
        )
    if user is not None:
        user = check_id(user, "user")
        limits.append(Limit(f"user:{user}", budget.user_cap, keep))
        quota = budget.user_quota
        if quota is not None:
            period = now.strftime("%Y-%m-%d" if quota.period == "day" else "%Y-%m")
            length = 86_400.0 if quota.period == "day" else 31 * 86_400.0
            limits.append(
                Limit(f"user:{user}@{quota.period}:{period}", quota.tokens, length + keep)
            )
        if budget.user_tokens_per_minute is not None:
            limits.append(Limit(f"rate:user:{user}@{minute}", budget.user_tokens_per_minute, 120.0))
    if conversation is not None:
        conversation = check_id(conversation, "conversation")
        limits.append(Limit(f"conversation:{conversation}", budget.conversation_cap, keep))
    limits.append(Limit("global", budget.global_cap, keep))
    return tuple(limits)
