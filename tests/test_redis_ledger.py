"""The Redis ledger against a real server: retries after a lost reply, and durability checks.

A loopback TCP proxy between client and server drops the reply to one script call after the
server ran it, as a network failure would; the client retries, and the scripts must make the
retry a no-op that returns the first outcome.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from ctxbudget import BudgetEvent, SessionBudget
from ctxbudget.session.ledgers import Limit

pytestmark = pytest.mark.redis


class DroppingProxy:
    """Forwards TCP between a client and Redis; when armed, swallows the server's reply to
    the next EVALSHA that ran (not a NOSCRIPT answer) and then closes the client connection
    (``mode="close"``) or just stays silent (``mode="silent"``, the client times out)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed: str | None = None
        self.dropped = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, mode: str = "close") -> None:
        with self._lock:
            self.armed = mode

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            state = {"drop": None}
            threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, state), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, state: dict) -> None:
        try:
            while data := client.recv(65536):
                with self._lock:
                    if self.armed and b"EVALSHA" in data.upper():
                        state["drop"], self.armed = self.armed, None
                server.sendall(data)
        except OSError:
            pass
        finally:
            server.close()

    def _down(self, server: socket.socket, client: socket.socket, state: dict) -> None:
        try:
            while data := server.recv(65536):
                if state["drop"] and not data.startswith(b"-NOSCRIPT"):
                    mode, state["drop"] = state["drop"], None
                    self.dropped += 1
                    if mode == "close":
                        break
                    continue  # silent: the reply never arrives
                client.sendall(data)
        except OSError:
            pass
        finally:
            client.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def proxy(redis_url: str) -> Iterator[DroppingProxy]:
    parts = urlsplit(redis_url)
    p = DroppingProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    yield p
    p.close()


@pytest.fixture
def prefix() -> str:
    return f"retry-{uuid.uuid4().hex[:10]}:"


@pytest.mark.parametrize("mode", ["close", "silent"])
def test_a_lost_reply_never_holds_or_records_twice(
    proxy: DroppingProxy, prefix: str, mode: str
) -> None:
    """Before the fix: reserved 200 for a reserve of 100, and the commit's retry raised
    ReservationError although the first attempt had committed."""
    url = f"redis://127.0.0.1:{proxy.port}/0?prefix={prefix}&timeout=0.5"
    budget = SessionBudget(url, session_cap=1000)
    budget.status("s")  # connect first, so the armed drop hits a script call
    proxy.arm(mode)
    r = budget.reserve(100, session="s")
    assert proxy.dropped == 1
    assert budget.status("s").reserved == 100
    proxy.arm(mode)
    r.commit(60, 20)
    assert proxy.dropped == 2
    status = budget.status("s")
    assert (status.used, status.reserved, status.calls) == (80, 0, 1)
    r2 = budget.reserve(300, session="s")
    proxy.arm(mode)
    r2.rollback()
    assert budget.status("s").reserved == 0
    proxy.arm(mode)
    budget.record(5, 5, session="s")
    status = budget.status("s")
    assert (status.used, status.calls, proxy.dropped) == (90, 2, 4)
    budget.close()


def test_a_client_of_your_own_retries_safely_too(proxy: DroppingProxy, prefix: str) -> None:
    """``RedisLedger(redis.Redis(...))`` keeps redis-py's own retry; the scripts make it safe."""
    import redis

    from ctxbudget.session.ledgers._redis import RedisLedger

    client = redis.Redis(host="127.0.0.1", port=proxy.port)
    ledger = RedisLedger(client, key_prefix=prefix)
    ledger.status("x")
    limits = [Limit("session:x", 1000, 60.0)]
    proxy.arm()
    assert ledger.reserve("r1", 100, limits, 30.0).ok
    proxy.arm()
    ledger.commit("r1", 10, 0, 0.0, 0.8)
    record = ledger.status("session:x")
    assert record is not None
    assert (record.used, record.reserved, proxy.dropped) == (10, 0, 2)
    ledger.close()


def test_a_replayed_reserve_returns_the_first_outcome(redis_url: str, prefix: str) -> None:
    from ctxbudget import ledger_from_url

    ledger = ledger_from_url(f"{redis_url}?prefix={prefix}")
    limits = [Limit("session:y", 150, 60.0)]
    assert ledger.reserve("same", 100, limits, 30.0).ok
    assert ledger.reserve("same", 100, limits, 30.0).ok  # would not fit twice
    record = ledger.status("session:y")
    assert record is not None
    assert record.reserved == 100
    ledger.close()


def test_redis_without_persistence_warns_once(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The test server runs with --save '' --appendonly no: a restart would lose the ledger."""
    budget = SessionBudget(f"{redis_url}?prefix={prefix}", session_cap=1000)
    seen: list[BudgetEvent] = []
    budget.on("not_durable", seen.append)
    with caplog.at_level(logging.WARNING, logger="ctxbudget.ledgers"):
        budget.reserve(10, session="s").commit(1, 1)
        budget.reserve(10, session="s").commit(1, 1)
    assert len(seen) == 1
    assert seen[0].detail is not None
    assert "neither AOF" in seen[0].detail["message"]
    assert budget.ledger.durability_warning == seen[0].detail["message"]
    assert sum("may not be durable" in m for m in caplog.messages) == 1
    budget.close()


def test_redis_with_appendonly_does_not_warn(redis_url: str, prefix: str) -> None:
    import redis

    admin = redis.Redis.from_url(redis_url)
    admin.config_set("appendonly", "yes")
    try:
        budget = SessionBudget(f"{redis_url}?prefix={prefix}", session_cap=1000)
        seen: list[BudgetEvent] = []
        budget.on("not_durable", seen.append)
        budget.reserve(10, session="s").commit(1, 1)
        assert seen == []
        assert budget.ledger.durability_warning is None
        budget.close()
    finally:
        admin.config_set("appendonly", "no")
        admin.close()
