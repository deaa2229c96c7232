"""The Redis ledger's steps: each one script's keys and arguments, and how its reply reads.

A step is built once as a :class:`Step` and then performed by the sync client
(:meth:`RedisLedger._perform <ctxbudget.session.ledgers._redis.RedisLedger._perform>`) or by the
async one (:mod:`._redis_async`), so both drivers send the same script with the same keys and read
its reply the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

from ..._errors import ReservationError
from ._base import Limit, Overspend, ReserveOutcome, ScopeRecord, SettleOutcome
from ._redis_scripts import expired_of, records_of
from ._redis_scripts import text as _text

__all__ = ["NOTHING_SETTLED", "ScriptSteps", "Step"]


class Step(NamedTuple):
    """One script run: its ``name``, ``keys`` and ``args``, what it answers when Redis is
    unreachable and the ledger fails open (``unavailable``), and ``read``, which turns the reply
    into the ledger method's result (raising its refusals)."""

    name: str
    keys: list[str]
    args: list[Any]
    unavailable: Any
    read: Callable[[Any], Any]


def _cost(cost: float | None) -> str:
    """A cost as the scripts take it: the exact decimal string, or "" for unknown."""
    return "" if cost is None else repr(cost)


def _request_id() -> str:
    """A fresh request id: a retry of the same call replays its first reply."""
    return os.urandom(16).hex()


#: What a settle step answers when Redis is unreachable and the ledger fails open.
NOTHING_SETTLED = [1, 0, [], [], [], [], []]


class ScriptSteps:
    """The steps of :class:`~ctxbudget.session.ledgers._redis.RedisLedger` (a base class of
    it, which sets ``prefix``, ``_leases`` and ``_scope_set`` and reads ``status``)."""

    prefix: str
    _leases: str
    _scope_set: str
    status: Callable[[str], ScopeRecord | None]

    def _keys(self, own: str, limits: Sequence[Limit] = ()) -> list[str]:
        """A script's KEYS: leases, scopes, its own key, then one hash per limit's scope."""
        prefix = self.prefix
        return [self._leases, self._scope_set, own, *[f"{prefix}s:{x.scope}" for x in limits]]

    @staticmethod
    def _limits(limits: Sequence[Limit]) -> list[str]:
        """Per limit, its cap ('' for none) and retention in seconds, as the scripts take them."""
        out = []
        for limit in limits:
            out.append("" if limit.cap is None else str(limit.cap))
            out.append(repr(limit.retention_s))
        return out

    def _reserve(
        self, reservation_id: str, tokens: int, limits: Sequence[Limit], lease_s: float, *_: Any
    ) -> Step:
        # owner is not used: Redis serves many hosts, so only the lease tells who is gone.
        keys = self._keys(f"{self.prefix}h:{reservation_id}", limits)
        args = [tokens, repr(lease_s), *self._limits(limits)]
        return Step("reserve", keys, args, [1, [], []], self._reserved)

    @staticmethod
    def _reserved(reply: list[Any]) -> ReserveOutcome:
        ok, refused, expired = reply
        if int(ok) == 1:
            return ReserveOutcome(ok=True, expired=expired_of(expired))
        scope = _text(refused[0])
        used, reserved, cap, newly, flagged = (int(_text(v)) for v in refused[1:])
        record = ScopeRecord(scope, cap=cap, used=used, reserved=reserved, exhausted=bool(flagged))
        return ReserveOutcome(
            ok=False, refused=record, expired=expired_of(expired), exhausted=bool(newly)
        )

    def _renew(self, reservation_id: str, lease_s: float) -> Step:
        def read(reply: list[Any]) -> bool:
            self._check_settleable(reply, reservation_id, "renew")
            return int(reply[0]) == 1

        keys = self._keys(f"{self.prefix}h:{reservation_id}")
        return Step("renew", keys, [repr(lease_s)], [1], read)

    @staticmethod
    def _check_settleable(reply: list[Any], reservation_id: str, what: str) -> None:
        """Raise the script's refusal ({-1, state}) as a ReservationError."""
        if int(reply[0]) == -1:
            state = _text(reply[1])
            raise ReservationError(
                f"cannot {what}: it is {state.replace('_', ' ')}",
                reservation_id=reservation_id,
                state=state,
            )

    def _settled(self, reply: list[Any], reservation_id: str, what: str) -> SettleOutcome:
        """A settle reply ({1, lapsed, warned, exhausted, expired, overspent, records})."""
        self._check_settleable(reply, reservation_id, what)
        _, lapsed, warned, exhausted, expired, overspent = reply[:6]
        # the scripts return the records of the scopes they name; a reply stored by an
        # older version (a replay) has none, and those are read back
        records = records_of(reply[6]) if len(reply) > 6 else {}

        def record(scope: Any) -> ScopeRecord:
            name = _text(scope)
            return records.get(name) or self.status(name) or ScopeRecord(name)

        return SettleOutcome(
            tuple(record(s) for s in warned),
            tuple(record(s) for s in exhausted),
            bool(int(lapsed)),
            expired_of(expired),
            tuple(
                Overspend(record(s), int(_text(n)), int(_text(m)), _text(c))
                for s, n, m, c in overspent
            ),
        )

    def _commit(
        self,
        reservation_id: str,
        input_tokens: int,
        output_tokens: int,
        cost: float | None,
        soft_ratio: float,
        *,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> Step:
        keys = self._keys(f"{self.prefix}h:{reservation_id}")
        args = [
            input_tokens,
            output_tokens,
            _cost(cost),
            repr(soft_ratio),
            _request_id(),
            cached_input_tokens,
            cache_write_tokens,
        ]
        read = partial(self._settled, reservation_id=reservation_id, what="commit")
        return Step("commit", keys, args, NOTHING_SETTLED, read)

    def _charge(
        self,
        reservation_id: str,
        limits: Sequence[Limit],
        input_tokens: int,
        output_tokens: int,
        *,
        cost: float | None,
        soft_ratio: float,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
        owner: str | None = None,
    ) -> Step:
        def read(reply: list[Any]) -> tuple[ReserveOutcome, SettleOutcome | None]:
            self._check_settleable(reply, reservation_id, "charge")
            if int(reply[0]) == 0:
                return self._reserved(reply), None
            held = ReserveOutcome(ok=True, expired=expired_of(reply[2]))
            return held, self._settled(reply[3], reservation_id, "charge")

        keys = self._keys(f"{self.prefix}h:{reservation_id}", limits)
        args = [
            input_tokens,
            output_tokens,
            _cost(cost),
            repr(soft_ratio),
            cached_input_tokens,
            cache_write_tokens,
            *self._limits(limits),
        ]
        return Step("charge", keys, args, [1, [], [], NOTHING_SETTLED], read)

    def _rollback(self, reservation_id: str) -> Step:
        def read(reply: list[Any]) -> None:
            self._check_settleable(reply, reservation_id, "roll back")

        keys = self._keys(f"{self.prefix}h:{reservation_id}")
        return Step("rollback", keys, [_request_id()], [1], read)

    def _record(
        self,
        limits: Sequence[Limit],
        input_tokens: int,
        output_tokens: int,
        cost: float | None,
        soft_ratio: float,
        *,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> Step:
        keys = self._keys(f"{self.prefix}r:{_request_id()}", limits)
        args = [
            input_tokens,
            output_tokens,
            _cost(cost),
            repr(soft_ratio),
            cached_input_tokens,
            cache_write_tokens,
            *self._limits(limits),
        ]
        read = partial(self._settled, reservation_id="-", what="record")
        return Step("record", keys, args, NOTHING_SETTLED, read)

    def _expire(self) -> Step:
        return Step("expire", [self._leases, self._scope_set], [], [], expired_of)
