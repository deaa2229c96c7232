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
import weakref
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..._errors import LedgerError
from ._base import Expired, Ledger, Limit, ReserveOutcome, ScopeRecord, SettleOutcome
from ._url import boolean, positive_seconds, redact, text, url_options

try:
    import redis
    import redis.cluster
    import redis.exceptions
except ImportError as exc:  # pragma: no cover - exercised where redis is not installed
    raise LedgerError(
        "the Redis ledger needs the redis package: pip install 'ctxbudget[redis]'"
    ) from exc

from ._redis_async import AsyncClient, AsyncDriver, LoopClients, async_connect
from ._redis_cluster import Client, cluster_hint, connect, node_of, once, persistence, tagged
from ._redis_scripts import record_of, scripts
from ._redis_scripts import text as _text
from ._redis_steps import ScriptSteps, Step

__all__ = ["RedisLedger"]

log = logging.getLogger("ctxbudget.ledgers")

#: Unreachable: a cluster client raises RedisClusterException (no RedisError) when no node answers.
_UNREACHABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.RedisClusterException,
)


class RedisLedger(AsyncDriver, ScriptSteps, Ledger):
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
        async_client: makes the ``redis.asyncio`` client of an event loop for the async API
            (:mod:`._redis_async`; :meth:`from_url` gives one with the sync client's
            settings). ``None``: async steps run the sync client in a worker thread.

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
        async_client: Callable[[], AsyncClient] | None = None,
    ) -> None:
        self._aclients = None if async_client is None else LoopClients(async_client)
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
        self._note_persistence(aof, save)

    def _note_persistence(self, aof: str | None, save: str | None) -> None:
        """Warn once when the server's ``appendonly`` and ``save`` (``None``: unreadable)
        mean a restart loses the ledger."""
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
        options.setdefault("async_client", async_connect(url, cluster=cluster, timeout=timeout))
        return cls(connect(url, cluster=cluster, timeout=timeout), url=url, **options)

    def _call(self, what: str, fn: Callable[[], Any], unavailable: Any) -> Any:
        try:
            result = fn()
        except (*_UNREACHABLE, redis.exceptions.RedisError) as exc:
            return self._failed(what, exc, unavailable)
        if not self._persistence_checked:
            self._check_persistence()
        return result

    def _failed(self, what: str, exc: Exception, unavailable: Any) -> Any:
        """What a step that raised ``exc`` answers: ``unavailable`` when Redis is unreachable
        and the ledger fails open; else a :class:`LedgerError` is raised from ``exc``."""
        if isinstance(exc, _UNREACHABLE):
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
        hint = "" if self.cluster else cluster_hint(exc)
        raise LedgerError(f"Redis error during {what}: {exc}{hint}", url=self.url) from exc

    def _perform(self, step: Step) -> Any:
        """Run one step's script (one round trip), with the errors of :meth:`_failed`."""
        run = self._scripts.run
        reply = self._call(step.name, lambda: run(self.client, *step[:3]), step.unavailable)
        return step.read(reply)

    def reserve(
        self,
        reservation_id: str,
        tokens: int,
        limits: Sequence[Limit],
        lease_s: float,
        owner: str | None = None,
    ) -> ReserveOutcome:
        return self._perform(self._reserve(reservation_id, tokens, limits, lease_s))  # type: ignore[no-any-return]

    def renew(self, reservation_id: str, lease_s: float) -> bool:
        return self._perform(self._renew(reservation_id, lease_s))  # type: ignore[no-any-return]

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
        step = self._commit(
            reservation_id,
            input_tokens,
            output_tokens,
            cost,
            soft_ratio,
            cached_input_tokens=cached_input_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        return self._perform(step)  # type: ignore[no-any-return]

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
        step = self._charge(
            reservation_id,
            limits,
            input_tokens,
            output_tokens,
            cost=cost,
            soft_ratio=soft_ratio,
            cached_input_tokens=cached_input_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        return self._perform(step)  # type: ignore[no-any-return]

    def rollback(self, reservation_id: str) -> None:
        self._perform(self._rollback(reservation_id))

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
        step = self._record(
            limits,
            input_tokens,
            output_tokens,
            cost,
            soft_ratio,
            cached_input_tokens=cached_input_tokens,
            cache_write_tokens=cache_write_tokens,
        )
        return self._perform(step)  # type: ignore[no-any-return]

    def expire(self) -> tuple[Expired, ...]:
        return self._perform(self._expire())  # type: ignore[no-any-return]

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
