"""The Redis ledger's async driver: its steps awaited through ``redis.asyncio``.

:meth:`RedisLedger.astep <ctxbudget.session.ledgers._redis.RedisLedger.astep>` sends a step's
script (the same :class:`~._redis_steps.Step` the sync client sends: same keys, arguments and
reply) through a ``redis.asyncio`` client, so an async caller waits for Redis without a worker
thread and without blocking its event loop. A ``redis.asyncio`` connection belongs to the event
loop that opened it, so the driver keeps one client per running loop, made at the loop's first
step with the sync client's settings (timeouts, 3 retries with backoff, TLS, cluster).
``await ledger.aclose()`` (or ``await budget.aclose()``) closes the running loop's client; a
loop that ends without it leaves its client to the garbage collector (``redis.asyncio`` then
warns of an unclosed connection, as it does for any client not closed).

Steps that are not scripts (``scopes``, ``reset``) and ledgers built from a sync client without
an async one (``RedisLedger(redis.Redis(...))``) run the sync step in a worker thread instead.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any, Union

import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.backoff
import redis.exceptions

from ..._errors import LedgerError
from ._redis_cluster import plain_url
from ._redis_scripts import Scripts, record_of, text
from ._url import redact

if TYPE_CHECKING:
    from ._redis_steps import Step

__all__ = ["AsyncClient", "AsyncDriver", "LoopClients", "async_connect"]

#: An async client the ledger can run its scripts through.
AsyncClient = Union[redis.asyncio.Redis, "redis.asyncio.cluster.RedisCluster"]

#: Ledger steps that are one script each (built by ``ScriptSteps._<name>``).
SCRIPTED = frozenset({"reserve", "renew", "commit", "charge", "rollback", "record", "expire"})


def async_connect(url: str, *, cluster: bool, timeout: float) -> Callable[[], AsyncClient]:
    """A function that makes a ``redis.asyncio`` client for ``url`` with the sync client's
    settings (see :func:`~._redis_cluster.connect`); ``timeout`` is in seconds.

    Raises:
        LedgerError: the URL is malformed.
    """
    plain = plain_url(url, cluster=cluster)
    retry = redis.asyncio.retry.Retry(
        redis.backoff.ExponentialWithJitterBackoff(base=0.05, cap=1.0),
        3,
        supported_errors=(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError),
    )
    opts: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": retry,
    }

    def make() -> AsyncClient:
        try:
            if cluster:
                return redis.asyncio.cluster.RedisCluster.from_url(plain, **opts)
            return redis.asyncio.Redis.from_url(plain, **opts)
        except ValueError as exc:
            raise LedgerError(f"malformed Redis URL: {exc}", url=redact(url)) from exc

    return make


class LoopClients:
    """One async client per event loop, made by ``make`` at the loop's first step and closed
    when the loop shuts down: each client is tied to an async generator the loop finalizes in
    ``shutdown_asyncgens()`` (which :func:`asyncio.run` runs before it closes the loop), so a
    program that never calls ``aclose`` leaves no connection open. Thread-safe."""

    def __init__(self, make: Callable[[], AsyncClient]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[AsyncClient, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()

    async def get(self) -> AsyncClient:
        """The running loop's client (made now if it has none).

        Raises:
            RuntimeError: no event loop is running in this thread.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            made = self._clients.get(loop)
            if made is not None:
                return made[0]
            client = self._make()
            keeper = _closed_at_shutdown(client)
            self._clients[loop] = (client, keeper)  # the loop holds its async generators weakly
        await keeper.asend(None)  # started: the loop now finalizes it at shutdown
        return client

    async def aclose(self) -> None:
        """Close the running loop's client, if it has one."""
        with self._lock:
            made = self._clients.pop(asyncio.get_running_loop(), None)
        if made is not None:
            await made[1].aclose()


async def _closed_at_shutdown(client: AsyncClient) -> AsyncGenerator[None, None]:
    """Suspended until closed (by :meth:`LoopClients.aclose` or the loop's shutdown), then
    closes ``client``."""
    try:
        yield
    finally:
        await client.aclose()


async def run_script(
    scripts: Scripts, client: AsyncClient, name: str, keys: list[str], args: list[Any]
) -> Any:
    """:meth:`Scripts.run` through an async client: one ``EVALSHA``; on ``NOSCRIPT`` (a
    server that does not know the script did nothing) every script is loaded (into every
    primary of a cluster) and the step is sent once more.

    Raises:
        redis.exceptions.RedisError: the server refused the step or could not be reached.
    """
    sha, n = scripts.sha[name], len(keys)
    try:
        return await client.evalsha(sha, n, *keys, *args)
    except redis.exceptions.NoScriptError:
        for source in scripts.source.values():  # a cluster sends SCRIPT LOAD to its primaries
            await client.script_load(source)
        return await client.evalsha(sha, n, *keys, *args)


_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


async def _persistence(client: redis.asyncio.Redis) -> tuple[str | None, str | None]:
    """:func:`~._redis_cluster.persistence` of one node through an async client."""
    try:
        aof = await client.config_get("appendonly")
        save = await client.config_get("save")
        return text(_setting(aof, "appendonly")), text(_setting(save, "save"))
    except redis.exceptions.ResponseError:
        info = await client.info("persistence")
        return ("yes" if int(info.get("aof_enabled", 0)) else "no"), None


def _setting(reply: dict[Any, Any], name: str) -> Any:
    """One value of a ``CONFIG GET`` reply ("" when it is not set)."""
    values = {text(k): v for k, v in reply.items()}
    return values.get(name, "")


class AsyncDriver:
    """:meth:`astep` and :meth:`aclose` of the Redis ledger (a base class of it)."""

    # set by RedisLedger
    _aclients: LoopClients | None
    _scripts: Scripts
    _persistence_checked: bool
    prefix: str
    _failed: Callable[[str, Exception, Any], Any]
    _check_persistence: Callable[[], None]
    _note_persistence: Callable[[str | None, str | None], None]
    close: Callable[[], None]

    async def astep(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run the ledger step ``name`` through ``redis.asyncio`` (one round trip, no
        thread), with the same arguments, result and errors as the sync step; steps that are
        not scripts, or a ledger without an async client, run the sync step in a thread.

        Raises:
            LedgerError: Redis is unreachable (failing closed) or answers with an error.
            ReservationError: the step's refusal, as the sync step raises it.
        """
        if self._aclients is None or (name not in SCRIPTED and name != "status"):
            return await asyncio.to_thread(getattr(self, name), *args, **kwargs)
        client = await self._aclients.get()
        if name == "status":
            return await self._astatus(client, *args)
        step: Step = getattr(self, f"_{name}")(*args, **kwargs)
        try:
            reply = await run_script(self._scripts, client, step.name, step.keys, step.args)
        except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException) as exc:
            reply = self._failed(step.name, exc, step.unavailable)
        else:
            if not self._persistence_checked:
                await self._acheck_persistence(client)
        return step.read(reply)

    async def _acheck_persistence(self, client: AsyncClient) -> None:
        """:meth:`_check_persistence` through the async client (a cluster's primary is read
        by the sync client, in a worker thread)."""
        if isinstance(client, redis.asyncio.cluster.RedisCluster):
            await asyncio.to_thread(self._check_persistence)
            return
        try:
            aof, save = await _persistence(client)
        except _UNREACHABLE:
            return  # not reachable yet: checked after the first step that succeeds
        except redis.exceptions.RedisError:
            aof, save = None, None
        self._note_persistence(aof, save)

    async def _astatus(self, client: AsyncClient, scope: str) -> Any:
        try:
            raw = await client.hgetall(f"{self.prefix}s:{scope}")
        except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException) as exc:
            raw = self._failed("status", exc, {})
        if not raw:
            return None
        return record_of(scope, {text(k): text(v) for k, v in raw.items()})

    async def aclose_loop(self) -> None:
        """Close the running event loop's async client only; the ledger stays usable (a later
        loop makes a client of its own). For programs that run several event loops one after
        another (``asyncio.run`` per job): call it before each loop ends."""
        if self._aclients is not None:
            await self._aclients.aclose()

    async def aclose(self) -> None:
        """Close the running loop's async client, then the ledger (:meth:`close`)."""
        try:
            await self.aclose_loop()
        finally:
            self.close()
