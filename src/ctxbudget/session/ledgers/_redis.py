"""The Redis ledger: safe across processes and hosts; every step is one Lua script.

Scripts ship as package data (``ctxbudget/ledgers/lua/``) and run with the server's clock, so
hosts with skewed clocks agree on lease expiry. Keys live under a prefix (default
``ctxbudget:``) with TTLs for retention. Needs the optional ``redis`` package:
``pip install 'ctxbudget[redis]'``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from ..._errors import LedgerError, ReservationError
from ._base import Expired, Ledger, Limit, ReserveOutcome, ScopeRecord, SettleOutcome
from ._url import boolean, positive_seconds, redact, text, url_options

try:
    import redis
    import redis.exceptions
except ImportError as exc:  # pragma: no cover - exercised where redis is not installed
    raise LedgerError(
        "the Redis ledger needs the redis package: pip install 'ctxbudget[redis]'"
    ) from exc

__all__ = ["RedisLedger"]

log = logging.getLogger("ctxbudget.ledgers")


def _script(name: str) -> str:
    folder = resources.files(__package__ or "ctxbudget.session.ledgers").joinpath("lua")
    return folder.joinpath("common.lua").read_text() + "\n" + folder.joinpath(name).read_text()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _expired(flat: Sequence[Any]) -> tuple[Expired, ...]:
    items = [_text(v) for v in flat]
    return tuple(
        Expired(items[i], int(items[i + 1]), tuple(s for s in items[i + 2].split("\n") if s))
        for i in range(0, len(items), 3)
    )


class RedisLedger(Ledger):
    """Spend kept in Redis (``redis://host:port/db``, ``rediss://`` for TLS).

    Args:
        client: a ``redis.Redis`` client.
        key_prefix: prefix of every key (``?prefix=`` in the URL).
        fail_open: when Redis is unreachable, let reservations through unchecked and skip
            recording (logged as warnings) instead of raising. Default ``False``: fail closed.
        url: the URL, for messages.

    Raises:
        LedgerError: Redis is unreachable (failing closed) or answers with an error.
    """

    schemes = ("redis", "rediss")

    def __init__(
        self,
        client: redis.Redis,
        *,
        key_prefix: str = "ctxbudget:",
        fail_open: bool = False,
        url: str = "redis://",
    ) -> None:
        self.client = client
        self.prefix = key_prefix
        self.fail_open = fail_open
        self.url = redact(url)
        self._scripts = {
            name: client.register_script(_script(f"{name}.lua"))
            for name in ("reserve", "commit", "rollback", "record", "expire")
        }

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisLedger:
        """``redis://[:password@]host:port/db?prefix=app:&fail_open=true&timeout=2``."""
        parts = urlsplit(url)
        query = url_options(
            url, {"prefix": text, "fail_open": boolean, "timeout": positive_seconds}
        )
        if "prefix" in query:
            options.setdefault("key_prefix", query["prefix"])
        if "fail_open" in query:
            options.setdefault("fail_open", query["fail_open"])
        timeout = query.get("timeout", 2.0)
        plain = parts._replace(query="").geturl()
        try:
            client = redis.Redis.from_url(
                plain, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        except ValueError as exc:
            raise LedgerError(f"malformed Redis URL: {exc}", url=redact(url)) from exc
        return cls(client, url=url, **options)

    def _call(self, what: str, fn: Callable[[], Any], unavailable: Any) -> Any:
        try:
            return fn()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            if self.fail_open:
                log.warning(
                    "ctxbudget: Redis unreachable at %s during %s; failing open: %s",
                    self.url,
                    what,
                    exc,
                )
                return unavailable
            raise LedgerError(
                f"Redis is unreachable ({exc}); failing closed, so {what} did not happen. "
                f"Start Redis or check the URL; pass fail_open=True to let calls through "
                f"unchecked while it is down",
                url=self.url,
            ) from exc
        except redis.exceptions.RedisError as exc:
            raise LedgerError(f"Redis error during {what}: {exc}", url=self.url) from exc

    @staticmethod
    def _limits(limits: Sequence[Limit]) -> list[str]:
        out = []
        for limit in limits:
            out += [
                limit.scope,
                "" if limit.cap is None else str(limit.cap),
                repr(limit.retention_s),
            ]
        return out

    def reserve(
        self, reservation_id: str, tokens: int, limits: Sequence[Limit], lease_s: float
    ) -> ReserveOutcome:
        args: list[Any] = [
            self.prefix,
            reservation_id,
            tokens,
            repr(lease_s),
            len(limits),
            *self._limits(limits),
        ]
        reply = self._call("reserve", lambda: self._scripts["reserve"](args=args), [1, [], []])
        ok, refused, expired = reply
        if int(ok) == 1:
            return ReserveOutcome(ok=True, expired=_expired(expired))
        scope = _text(refused[0])
        used, reserved, cap, newly, flagged = (int(_text(v)) for v in refused[1:])
        record = ScopeRecord(scope, cap=cap, used=used, reserved=reserved, exhausted=bool(flagged))
        return ReserveOutcome(
            ok=False, refused=record, expired=_expired(expired), exhausted=bool(newly)
        )

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
        self._check_settleable(reply, reservation_id, what)
        _, lapsed, warned, exhausted, expired = reply
        return SettleOutcome(
            tuple(self._record_or_name(s) for s in warned),
            tuple(self._record_or_name(s) for s in exhausted),
            bool(int(lapsed)),
            _expired(expired),
        )

    def _record_or_name(self, scope: Any) -> ScopeRecord:
        name = _text(scope)
        return self.status(name) or ScopeRecord(name)

    def commit(
        self,
        reservation_id: str,
        input_tokens: int,
        output_tokens: int,
        cost: float,
        soft_ratio: float,
    ) -> SettleOutcome:
        args: list[Any] = [
            self.prefix,
            reservation_id,
            input_tokens,
            output_tokens,
            repr(cost),
            repr(soft_ratio),
        ]
        reply = self._call("commit", lambda: self._scripts["commit"](args=args), [1, 0, [], [], []])
        return self._settled(reply, reservation_id, "commit")

    def rollback(self, reservation_id: str) -> None:
        reply = self._call(
            "rollback", lambda: self._scripts["rollback"](args=[self.prefix, reservation_id]), [1]
        )
        self._check_settleable(reply, reservation_id, "roll back")

    def record(
        self,
        limits: Sequence[Limit],
        input_tokens: int,
        output_tokens: int,
        cost: float,
        soft_ratio: float,
    ) -> SettleOutcome:
        args: list[Any] = [
            self.prefix,
            input_tokens,
            output_tokens,
            repr(cost),
            repr(soft_ratio),
            len(limits),
            *self._limits(limits),
        ]
        reply = self._call("record", lambda: self._scripts["record"](args=args), [1, 0, [], [], []])
        return self._settled(reply, "-", "record")

    def expire(self) -> tuple[Expired, ...]:
        reply = self._call("expire", lambda: self._scripts["expire"](args=[self.prefix]), [])
        return _expired(reply)

    def status(self, scope: str) -> ScopeRecord | None:
        raw = self._call("status", lambda: self.client.hgetall(f"{self.prefix}s:{scope}"), {})
        if not raw:
            return None
        h = {_text(k): _text(v) for k, v in raw.items()}
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
        )

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
        self.client.close()
