"""The spend rules on one scope record, shared by every step of the row ledgers.

Pure functions over :class:`~ctxbudget.session.ledgers.ScopeRecord` values: no store, no lock.
"""

from __future__ import annotations

from ._base import Expired, Overspend, ReserveOutcome, ScopeRecord, SettleOutcome

__all__ = ["Usage", "held", "settled", "snapshot", "spend", "with_expired"]

_HELD = ReserveOutcome(ok=True)  # frozen: one shared value for the common outcome
_SETTLED = SettleOutcome()


def snapshot(record: ScopeRecord) -> ScopeRecord:
    """A copy of ``record`` (a plain attribute copy: ``dataclasses.replace`` costs ~10x)."""
    copy = object.__new__(ScopeRecord)
    copy.__dict__.update(record.__dict__)
    return copy


#: One call's usage: (input tokens, output tokens, cached input tokens, cache-write tokens,
#: cost in US dollars or ``None`` when unknown).
Usage = tuple[int, int, int, int, "float | None"]
_Events = tuple[list[ScopeRecord], list[ScopeRecord], list[Overspend]]


def spend(
    records: list[ScopeRecord],
    usage: Usage,
    soft_ratio: float,
    now: float,
    *,
    released: int,
    cause: str,
) -> _Events | None:
    """Release ``released`` held tokens from each record and add the usage; note a record
    once when it crosses the soft-warn line or its cap, and whenever the step pushes
    ``used + reserved`` past its cap. Returns ``(warned, exhausted, overspent)`` or ``None``
    when nothing was noted."""
    input_tokens, output_tokens, cached, written, cost = usage
    spent = input_tokens + output_tokens
    events: _Events | None = None
    for record in records:
        before = record.used + record.reserved
        left = record.reserved - released
        record.reserved = left if left > 0 else 0
        record.used += spent
        record.calls += 1
        record.input_tokens += input_tokens
        record.output_tokens += output_tokens
        record.cached_input_tokens += cached
        record.cache_write_tokens += written
        if cost is None:
            record.calls_unpriced += 1
        else:
            record.cost += cost
        record.updated = now
        cap = record.cap
        if cap is None:
            continue
        over = max(0, record.used + record.reserved - cap) - max(0, before - cap)
        warn = not record.warned and record.used >= soft_ratio * cap
        done = not record.exhausted and record.used >= cap
        if over <= 0 and not warn and not done:
            continue
        if events is None:
            events = ([], [], [])
        if over > 0:
            record.overspent += over
            record.overspends += 1
            events[2].append(Overspend(snapshot(record), over, spent, cause))
        if warn:
            record.warned = True
            events[0].append(snapshot(record))
        if done:
            record.exhausted = True
            events[1].append(snapshot(record))
    return events


def held(expired: tuple[Expired, ...]) -> ReserveOutcome:
    return ReserveOutcome(ok=True, expired=expired) if expired else _HELD


def with_expired(refused: ReserveOutcome, expired: tuple[Expired, ...]) -> ReserveOutcome:
    if not expired:
        return refused
    return ReserveOutcome(
        ok=False, refused=refused.refused, expired=expired, exhausted=refused.exhausted
    )


def settled(lapsed: bool, expired: tuple[Expired, ...], events: _Events | None) -> SettleOutcome:
    if events is None:
        if not lapsed and not expired:
            return _SETTLED
        return SettleOutcome((), (), lapsed, expired)
    warned, exhausted, overspent = events
    return SettleOutcome(tuple(warned), tuple(exhausted), lapsed, expired, tuple(overspent))
