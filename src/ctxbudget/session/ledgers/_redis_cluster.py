"""How the Redis ledger reaches its server: one node or a Redis Cluster.

On Redis Cluster a script may touch only keys of the hash slot of the keys it declares, and
its declared keys must share one slot. A ledger step reads and writes several keys of one
namespace (the leases and scopes sets, a hold, the hashes of a session, its user and the
global scope, and the holds an expired lease frees, which only the script finds), so every
key of a cluster ledger carries one hash tag: the key prefix in braces. The default prefix
``ctxbudget:`` gives ``{ctxbudget:}leases``, ``{ctxbudget:}s:session:abc`` and
``{ctxbudget:}h:<reservation id>``, all on the slot of ``CLUSTER KEYSLOT {ctxbudget:}``. A
prefix that already holds a hash tag (``{app}:``) is kept as it is, so the same key names work
on one node and on a cluster. One namespace lives on one slot (one primary): spread a fleet
over the cluster with one prefix per tenant or team, never with one prefix per session (a
user's and the global scope must be in the same step as the session's).

The tag applies only to a cluster ledger (``redis://host:port/?cluster=true``, or
``redis+cluster://`` given to ``RedisLedger.from_url``): a plain ``redis://`` ledger keeps the
key names it always had. Its keys move to a cluster under the tagged names (``{ctxbudget:}``
for ``ctxbudget:``), or keep their names when both ledgers use a tagged prefix.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Union
from urllib.parse import urlsplit

import redis
import redis.backoff
import redis.cluster
import redis.exceptions
import redis.retry

from ..._errors import LedgerError
from ._url import redact

__all__ = [
    "Client",
    "cluster_hint",
    "connect",
    "node_of",
    "once",
    "persistence",
    "plain_url",
    "tagged",
]

#: A client the ledger can run its scripts through.
Client = Union[redis.Redis, "redis.cluster.RedisCluster"]


def has_hash_tag(prefix: str) -> bool:
    """Whether ``prefix`` holds a Redis Cluster hash tag: a ``{`` then, later, the first
    ``}`` with at least one character between (the rule of ``CLUSTER KEYSLOT``)."""
    start = prefix.find("{")
    return start >= 0 and prefix.find("}", start + 1) > start + 1


def tagged(prefix: str) -> str:
    """The key prefix of a cluster ledger: ``prefix`` if it holds a hash tag, else
    ``{prefix}``, so every key of the namespace hashes to one slot.

    >>> tagged("ctxbudget:"), tagged("{app}:")
    ('{ctxbudget:}', '{app}:')
    """
    return prefix if has_hash_tag(prefix) else "{" + prefix + "}"


def plain_url(url: str, *, cluster: bool) -> str:
    """``url`` as redis-py reads it: no query, ``redis+cluster``/``rediss+cluster`` read as
    ``redis``/``rediss``.

    Raises:
        LedgerError: a cluster URL names a database other than 0 (a cluster has only 0).
    """
    parts = urlsplit(url)
    if cluster and parts.path not in ("", "/", "/0"):
        raise LedgerError(
            f"malformed Redis URL: a Redis Cluster has only database 0, not {parts.path[1:]!r}",
            url=redact(url),
        )
    scheme = parts.scheme.removesuffix("+cluster")
    return parts._replace(scheme=scheme, query="").geturl()


def connect(url: str, *, cluster: bool, timeout: float) -> Client | Callable[[], Client]:
    """A client for ``url`` (its query removed; ``redis+cluster``/``rediss+cluster`` read as
    ``redis``/``rediss``), retrying a step whose connection failed or timed out up to 3 times
    (exponential backoff with jitter from 50 ms to 1 s). ``timeout`` is in seconds.

    For a cluster, a function that makes the client: a ``RedisCluster`` reads the cluster's
    slots from the URL's node when it is made, so the ledger makes it at its first step (an
    unreachable cluster then fails closed or open like any step). The URL is checked now.

    Raises:
        LedgerError: the URL is malformed (see :func:`plain_url`).
        redis.exceptions.RedisError, redis.exceptions.RedisClusterException: a cluster's node
            cannot be reached (the ledger reports it as unreachable).
    """
    plain = plain_url(url, cluster=cluster)
    retry = redis.retry.Retry(
        redis.backoff.ExponentialWithJitterBackoff(base=0.05, cap=1.0),
        3,
        supported_errors=(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError),
    )
    opts = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": retry}
    try:
        if cluster:
            return lambda: redis.cluster.RedisCluster.from_url(plain, **opts)
        return redis.Redis.from_url(plain, **opts)
    except ValueError as exc:
        raise LedgerError(f"malformed Redis URL: {exc}", url=redact(url)) from exc


def once(make: Callable[[], Client]) -> Callable[[], Client]:
    """``make`` called once, also when several threads ask first; then its client again."""
    lock = threading.Lock()
    made: list[Client] = []

    def client() -> Client:
        with lock:
            if not made:
                made.append(make())
            return made[0]

    return client


def node_of(client: Client, key: str) -> redis.Redis:
    """The client of the node serving ``key``: on a cluster, the primary of its slot (where a
    script for ``key`` runs, so where it must be loaded); otherwise ``client`` itself."""
    if isinstance(client, redis.cluster.RedisCluster):
        node = client.get_node_from_key(key)  # type: ignore[no-untyped-call]
        return client.get_redis_connection(node)
    return client


def cluster_hint(exc: Exception) -> str:
    """What to do when a ``redis://`` ledger's server answers as a Redis Cluster node would
    (``MOVED``, ``ASK``, ``CROSSSLOT``, ``CLUSTERDOWN``): "" for any other error."""
    cluster_errors = (
        redis.exceptions.AskError,  # MovedError too
        redis.exceptions.ClusterCrossSlotError,
        redis.exceptions.ClusterDownError,
    )
    if not isinstance(exc, cluster_errors):
        return ""
    return (
        "; the server is a Redis Cluster node: use redis+cluster://host:port/ or add "
        "?cluster=true to the URL (the keys then carry the prefix as a hash tag)"
    )


def _config(client: redis.Redis, name: str) -> str:
    """One server setting by ``CONFIG GET`` ("" when it is not set)."""
    reply = client.config_get(name)
    values = {_text(k): _text(v) for k, v in reply.items()}
    return values.get(name, "")


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def persistence(node: redis.Redis) -> tuple[str | None, str | None]:
    """``(appendonly, save)`` of one node; ``save`` is ``None`` when ``CONFIG`` is refused
    (managed services) and AOF is then read from ``INFO persistence``.

    Raises:
        redis.exceptions.RedisError: the node cannot be reached or refuses ``INFO`` too.
    """
    try:
        return _config(node, "appendonly"), _config(node, "save")
    except redis.exceptions.ResponseError:
        info = node.info("persistence")
        return ("yes" if int(info.get("aof_enabled", 0)) else "no"), None
