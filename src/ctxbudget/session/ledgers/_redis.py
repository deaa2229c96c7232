"""The Redis ledger: safe across processes and hosts; every step is one Lua script.

Scripts ship as package data (``ctxbudget/session/ledgers/lua/``), run by digest (one
``EVALSHA``, one round trip per step: see :mod:`._redis_scripts`) with the server's clock, so
hosts with skewed clocks agree on lease expiry. Keys live under a prefix (default
``ctxbudget:``, a hash tag on Redis Cluster: :mod:`._redis_cluster`) with TTLs for retention.
Every script is idempotent per request (a reserve per reservation id, a commit, rollback or
record per request id), so the client retries a step whose reply was lost without holding or
recording anything twice. Needs the optional ``redis`` package: ``pip install 'ctxbudget[redis]'``.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..._errors import LedgerError, ReservationError
from ._base import Expired, Ledger, Limit, Overspend, ReserveOutcome, ScopeRecord, SettleOutcome
from ._url import boolean, positive_seconds, redact, text, url_options

try:
    import redis
    import redis.cluster
    import redis.exceptions
except ImportError as exc:  # pragma: no cover - exercised where redis is not installed
    raise LedgerError(
        "the Redis ledger needs the redis package: pip install 'ctxbudget[redis]'"
    ) from exc

from ._redis_cluster import Client, cluster_hint, connect, node_of, once, persistence, tagged
from ._redis_scripts import expired_of, record_of, records_of, scripts
from ._redis_scripts import text as _text

__all__ = ["RedisLedger"]

log = logging.getLogger("ctxbudget.ledgers")

#: Unreachable: a cluster client raises RedisClusterException (no RedisError) when no node answers.
_UNREACHABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.RedisClusterException,
)


def _cost(cost: float | None) -> str:
    """A cost as the scripts take it: the exact decimal string, or "" for unknown."""
    return "" if cost is None else repr(cost)


def _request_id() -> str:
    """A fresh request id: a retry of the same call replays its first reply."""
    return os.urandom(16).hex()


#: What a settle step answers when Redis is unreachable and the ledger fails open.
_NOTHING_SETTLED = [1, 0, [], [], [], [], []]


class RedisLedger(Ledger):
    """Spend kept in Redis (``redis://host:port/db``, ``rediss://`` for TLS), or in a Redis
    Cluster (``redis://host:port/?cluster=true``, any one node: the client finds the others;
    :meth:`from_url` reads ``redis+cluster://host:port/`` the same way).

    A client made from a URL retries a step whose connection failed or timed out (up to 3
    times, exponential backoff with jitter from 50 ms to 1 s); the scripts make the retry
    safe. At connect the server's persistence settings are read: with neither AOF nor RDB
    snapshots on, a restart loses every scope, so :attr:`durability_warning` says so and a
    warning is logged (a session budget also fires ``not_durable``). The check runs once,
    after the first step that reaches the server (on a cluster, on the primary that serves
    the namespace).

    Args:
        client: a ``redis.Redis`` or ``redis.cluster.RedisCluster`` client (its own retry
            settings are kept), or a function that makes one at first use.
        key_prefix: prefix of every key (``?prefix=`` in the URL). A cluster ledger wraps it
            in braces unless it holds a hash tag already (``ctxbudget:`` -> ``{ctxbudget:}``).
        fail_open: when Redis is unreachable, let reservations through unchecked and skip
            recording (logged as warnings) instead of raising. Default ``False``: fail closed.
        url: the URL, for messages.
        cluster: the server is a Redis Cluster (default: ``client`` is a ``RedisCluster``).

    Raises:
        LedgerError: Redis is unreachable (failing closed) or answers with an error.
    """

    schemes = ("redis", "rediss", "redis+cluster", "rediss+cluster")

    def __init__(
        self,
        client: Client | Callable[[], Client],
        *,
        key_prefix: str = "ctxbudget:",
        fail_open: bool = False,
        url: str = "redis://",
        cluster: bool | None = None,
    ) -> None:
        self._client: Client | None = None
        self._connect: Callable[[], Client] | None = None
        if isinstance(client, (redis.Redis, redis.cluster.RedisCluster)):
            self._client = client
        else:
            self._connect = once(client)  # threads racing the first step share one client
        self.cluster = (
            isinstance(client, redis.cluster.RedisCluster) if cluster is None else cluster
        )
        self.prefix = key_prefix = tagged(key_prefix) if self.cluster else key_prefix
        self.fail_open = fail_open
        self.url = redact(url)
        self._scripts = scripts()
        self._leases = f"{key_prefix}leases"
        self._scope_set = f"{key_prefix}scopes"
        self.durability_warning: str | None = None
        self._persistence_checked = False  # checked after the first step that reaches Redis

    @property
    def client(self) -> Client:
        """The Redis client (made at first use when the ledger was given a function)."""
        if self._client is None:
            assert self._connect is not None
            self._client = self._connect()
            # a ledger dropped without close() closes the client it made (its sockets too)
            weakref.finalize(self, self._client.close)
        return self._client

    def _check_persistence(self) -> None:
        """Read the server's persistence settings once; warn when a restart loses the ledger."""
        try:
            aof, save = persistence(node_of(self.client, self._leases))
        except _UNREACHABLE:
            return  # not reachable yet: checked after the first step that succeeds
        except redis.exceptions.RedisError as exc:
            aof, save = None, None
            log.debug("ctxbudget: cannot read Redis persistence settings: %s", exc)
        self._persistence_checked = True
        if aof == "yes" or save:
            return
        if save is None and aof is None:
            why = "its persistence settings cannot be read (CONFIG and INFO refused)"
        elif save is None:
            why = "AOF is off and its RDB schedule cannot be read (CONFIG is disabled)"
        else:
            why = "neither AOF (appendonly) nor RDB snapshots (save) are on"
        self.durability_warning = (
            f"the Redis ledger at {self.url} may not be durable: {why}, so a server restart "
            f"would forget all spend and a spent cap would accept as much again; enable "
            f"appendonly yes (or a save schedule) on the server"
        )
        log.warning("ctxbudget: %s", self.durability_warning)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisLedger:
        """``redis://[:password@]host:port/db?prefix=app:&fail_open=true&timeout=2``; a
        cluster: ``redis+cluster://host:port/?prefix=app:`` (``rediss+cluster`` for TLS) or
        ``?cluster=true``. A cluster client connects at its first step."""
        query = url_options(
            url,
            {"prefix": text, "fail_open": boolean, "timeout": positive_seconds, "cluster": boolean},
        )
        for name, option in (("prefix", "key_prefix"), ("fail_open", "fail_open")):
            if name in query:
                options.setdefault(option, query[name])
        timeout = query.get("timeout", 2.0)
        scheme = urlsplit(url).scheme
        cluster = options.setdefault("cluster", query.get("cluster", scheme.endswith("+cluster")))
        return cls(connect(url, cluster=cluster, timeout=timeout), url=url, **options)

    def _call(self, what: str, fn: Callable[[], Any], unavailable: Any) -> Any:
        try:
            result = fn()
            if not self._persistence_checked:
                self._check_persistence()
            return result
        except _UNREACHABLE as exc:
            if self.fail_open:
                why = "ctxbudget: Redis unreachable at %s during %s; failing open: %s"
                log.warning(why, self.url, what, exc)
                return unavailable
            raise LedgerError(
                f"Redis is unreachable ({exc}); failing closed, so {what} did not happen. "
                f"Start Redis or check the URL; pass fail_open=True to let calls through "
                f"unchecked while it is down",
                url=self.url,
            ) from exc
        except redis.exceptions.RedisError as exc:
            hint = "" if self.cluster else cluster_hint(exc)
            raise LedgerError(f"Redis error during {what}: {exc}{hint}", url=self.url) from exc

    def _run(self, name: str, keys: list[str], args: list[Any], unavailable: Any) -> Any:
        """Run one step's script (one round trip), with the errors of :meth:`_call`."""
        run = self._scripts.run
        return self._call(name, lambda: run(self.client, name, keys, args), unavailable)

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

    def reserve(
        self,
        reservation_id: str,
        tokens: int,
        limits: Sequence[Limit],
        lease_s: float,
        owner: str | None = None,
    ) -> ReserveOutcome:
        # owner is not used: Redis serves many hosts, so only the lease tells who is gone.
        keys = self._keys(f"{self.prefix}h:{reservation_id}", limits)
        args = [tokens, repr(lease_s), *self._limits(limits)]
        return self._reserved(self._run("reserve", keys, args, [1, [], []]))

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

    def renew(self, reservation_id: str, lease_s: float) -> bool:
        keys = self._keys(f"{self.prefix}h:{reservation_id}")
        reply = self._run("renew", keys, [repr(lease_s)], [1])
        self._check_settleable(reply, reservation_id, "renew")
        return int(reply[0]) == 1

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

    def commit(
        self,
        reservation_id: str,
        input_tokens: int,
        output_tokens: int,
        cost: float | None,
        soft_ratio: float,
        *,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> SettleOutcome:
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
        reply = self._run("commit", keys, args, _NOTHING_SETTLED)
        return self._settled(reply, reservation_id, "commit")

    def charge(
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
    ) -> tuple[ReserveOutcome, SettleOutcome | None]:
        """Spend usage known before the call in ONE script (one round trip): refused exactly as
        :meth:`reserve` of ``input_tokens + output_tokens`` would refuse (nothing recorded),
        else recorded exactly as :meth:`commit` records it. Token counts are in tokens,
        ``cost`` in US dollars (``None``: unknown).

        Idempotent per ``reservation_id``: a replay (a retry after a lost reply) records
        nothing more and returns the first settle outcome; the reservation is kept as
        committed for the longest retention of ``limits``.

        Returns:
            ``(reserve outcome, settle outcome)``; the settle outcome is ``None`` when refused.

        Raises:
            ReservationError: ``reservation_id`` is a reservation's that was not charged.
            LedgerError: Redis is unreachable (failing closed) or answers with an error.
        """
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
        reply = self._run("charge", keys, args, [1, [], [], _NOTHING_SETTLED])
        self._check_settleable(reply, reservation_id, "charge")
        if int(reply[0]) == 0:
            return self._reserved(reply), None
        held = ReserveOutcome(ok=True, expired=expired_of(reply[2]))
        return held, self._settled(reply[3], reservation_id, "charge")

    def rollback(self, reservation_id: str) -> None:
        keys = self._keys(f"{self.prefix}h:{reservation_id}")
        reply = self._run("rollback", keys, [_request_id()], [1])
        self._check_settleable(reply, reservation_id, "roll back")

    def record(
        self,
        limits: Sequence[Limit],
        input_tokens: int,
        output_tokens: int,
        cost: float | None,
        soft_ratio: float,
        *,
        cached_input_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> SettleOutcome:
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
        reply = self._run("record", keys, args, _NOTHING_SETTLED)
        return self._settled(reply, "-", "record")

    def expire(self) -> tuple[Expired, ...]:
        keys = [self._leases, self._scope_set]
        return expired_of(self._run("expire", keys, [], []))

    def status(self, scope: str) -> ScopeRecord | None:
        raw = self._call("status", lambda: self.client.hgetall(f"{self.prefix}s:{scope}"), {})
        if not raw:
            return None
        return record_of(scope, {_text(k): _text(v) for k, v in raw.items()})

    def scopes(self, prefix: str = "") -> list[str]:
        names = self._call("list", lambda: self.client.zrange(f"{self.prefix}scopes", 0, -1), [])
        return sorted(n for n in (_text(x) for x in names) if n.startswith(prefix))

    def reset(self, scope: str) -> bool:
        def run() -> bool:
            pipe = self.client.pipeline()
            pipe.delete(f"{self.prefix}s:{scope}")
            pipe.zrem(f"{self.prefix}scopes", scope)
            deleted, _ = pipe.execute()
            return bool(deleted)

        return bool(self._call("reset", run, False))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
