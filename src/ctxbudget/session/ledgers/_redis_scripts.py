"""The Redis ledger's Lua scripts: how they are loaded and run, and how their replies read.

Each step is one ``EVALSHA`` of a script shipped as package data (``lua/common.lua``, then the
step's own file). The SHA-1 digests are computed here, so a step never asks the server for
them; a server that does not know a script (restarted, ``SCRIPT FLUSH``, a new replica)
answers ``NOSCRIPT`` without running anything, and :meth:`Scripts.run` then loads every
script in one pipelined round trip and sends the step once more. On Redis Cluster each
primary has its own script cache: the scripts are loaded into the primary that answered
``NOSCRIPT`` (the one serving the step's slot), when it first needs them. The retry is safe
whatever the script: a ``NOSCRIPT`` step did nothing, and every script is idempotent per
request.

Every script takes the same first keys, ``KEYS = [leases, scopes, own key, scope hashes...]``
(the own key is the hold, or a record's request), so the keys it touches are declared where
the client knows them; the holds an expired lease frees and the scopes a hold names are found
by the script itself under the same prefix. On Redis Cluster that prefix is a hash tag
(:mod:`._redis_cluster`), so every key a script touches, declared or found, is on the slot of
``KEYS[1]``, the only slot a cluster lets the script use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

import redis
import redis.exceptions

from ._base import Expired, ScopeRecord
from ._redis_cluster import Client, node_of

__all__ = ["Scripts", "expired_of", "record_of", "records_of", "scripts", "text"]

NAMES = ("reserve", "renew", "commit", "rollback", "record", "charge", "expire")


def text(value: Any) -> str:
    """A reply value as text (Redis answers bytes unless the client decodes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


class Scripts:
    """The ledger's scripts with their SHA-1 digests, loaded into a server on demand."""

    def __init__(self) -> None:
        folder = resources.files(__package__ or "ctxbudget.session.ledgers").joinpath("lua")
        common = folder.joinpath("common.lua").read_text()
        self.source = {
            name: common + "\n" + folder.joinpath(f"{name}.lua").read_text() for name in NAMES
        }
        self.sha = {
            name: hashlib.sha1(src.encode(), usedforsecurity=False).hexdigest()
            for name, src in self.source.items()
        }

    def load(self, client: redis.Redis) -> None:
        """``SCRIPT LOAD`` every script, in one round trip."""
        pipe = client.pipeline(transaction=False)
        for src in self.source.values():
            pipe.script_load(src)
        pipe.execute()

    def run(self, client: Client, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run script ``name`` in one round trip (two more if the server must load it first:
        on a cluster, the primary serving ``keys``, whose slot they share).

        Raises:
            redis.exceptions.RedisError: the server refused the step or could not be reached
                (the caller wraps it).
        """
        sha, n = self.sha[name], len(keys)
        try:
            return client.evalsha(sha, n, *keys, *args)
        except redis.exceptions.NoScriptError:
            self.load(node_of(client, keys[0]))
            return client.evalsha(sha, n, *keys, *args)


@cache
def scripts() -> Scripts:
    """The scripts, read from the package once per process."""
    return Scripts()


def expired_of(flat: Sequence[Any]) -> tuple[Expired, ...]:
    """Reclaimed holds from a script's ``{id, tokens, scopes joined by newlines, ...}``."""
    items = [text(v) for v in flat]
    return tuple(
        Expired(items[i], int(items[i + 1]), tuple(s for s in items[i + 2].split("\n") if s))
        for i in range(0, len(items), 3)
    )


def record_of(scope: str, fields: Mapping[str, str]) -> ScopeRecord:
    """A scope's record from its hash (field names as the scripts write them)."""
    h = fields
    return ScopeRecord(
        scope,
        cap=int(h["cap"]) if h.get("cap") else None,
        used=int(h.get("used", 0)),
        reserved=int(h.get("reserved", 0)),
        calls=int(h.get("calls", 0)),
        input_tokens=int(h.get("input", 0)),
        output_tokens=int(h.get("output", 0)),
        cost=float(h.get("cost", 0)),
        created=float(h.get("created", 0)),
        updated=float(h.get("updated", 0)),
        warned=h.get("warned") == "1",
        exhausted=h.get("exhausted") == "1",
        expires=float(h.get("expires", 0)),
        overspent=int(h.get("overspent", 0)),
        overspends=int(h.get("overspends", 0)),
        cached_input_tokens=int(h.get("cached", 0)),
        cache_write_tokens=int(h.get("written", 0)),
        calls_unpriced=int(h.get("unpriced", 0)),
    )


def records_of(flat: Sequence[Any]) -> dict[str, ScopeRecord]:
    """Records from a settle reply's ``{scope, HGETALL of it, ...}``."""
    out = {}
    for i in range(0, len(flat), 2):
        name, values = text(flat[i]), [text(v) for v in flat[i + 1]]
        out[name] = record_of(name, dict(zip(values[::2], values[1::2], strict=True)))
    return out
