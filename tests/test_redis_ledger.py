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
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest

from ctxbudget import BudgetEvent, SessionBudget
from ctxbudget.session.ledgers import Limit

pytestmark = pytest.mark.redis


def redis_connection_base() -> type:
    """redis-py's connection class (imported here: redis is an optional dependency)."""
    import redis

    return redis.Connection


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


class CountingConnection(redis_connection_base()):  # type: ignore[misc]
    """A redis-py connection that counts what it sends: each send is one round trip (a
    pipeline is one send), and each command's arguments are kept."""

    sends: ClassVar[int] = 0
    commands: ClassVar[list[tuple[Any, ...]]] = []

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sends += 1
        super().send_packed_command(command, check_health)

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        type(self).commands.append(args)
        super().send_command(*args, **kwargs)

    @classmethod
    def reset(cls) -> None:
        cls.sends = 0
        cls.commands = []


@pytest.fixture
def counted(redis_url: str, prefix: str) -> Iterator[Any]:
    """A RedisLedger whose client counts its round trips, warmed up (scripts loaded, the
    persistence settings read) and then reset."""
    import redis

    from ctxbudget.session.ledgers._redis import RedisLedger

    parts = urlsplit(redis_url)
    pool = redis.ConnectionPool(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        connection_class=CountingConnection,
    )
    client = redis.Redis(connection_pool=pool)
    ledger = RedisLedger(client, key_prefix=prefix)
    warm = [Limit("session:warm", None, 60.0)]
    ledger.reserve("warm", 1, warm, 30.0)
    ledger.commit("warm", 1, 0, None, 0.8)
    CountingConnection.reset()
    yield ledger
    ledger.close()


def _names() -> list[str]:
    return [str(c[0]).upper() for c in CountingConnection.commands]


def test_every_step_is_one_evalsha_round_trip(counted: Any, prefix: str) -> None:
    """Reserve, commit, charge, renew and rollback each send one EVALSHA and nothing else
    (no SCRIPT LOAD, no persistence check, no status read), also when a scope warns."""
    limits = [
        Limit("session:a", 1000, 60.0),
        Limit("user:u", None, 60.0),
        Limit("global", None, 60.0),
    ]
    steps = [
        lambda: counted.reserve("r1", 100, limits, 30.0),
        lambda: counted.renew("r1", 30.0),
        lambda: counted.commit("r1", 700, 100, 0.5, 0.8),  # crosses the soft line: warned
        lambda: counted.charge("c1", limits, 100, 50, cost=None, soft_ratio=0.8),  # exhausted
        lambda: counted.reserve("r2", 10, limits, 30.0),
        lambda: counted.rollback("r2"),
        lambda: counted.record(limits, 1, 1, None, 0.8),
    ]
    for step in steps:
        CountingConnection.reset()
        step()
        assert (CountingConnection.sends, _names()) == (1, ["EVALSHA"])
    record = counted.status("session:a")
    assert (record.used, record.reserved, record.calls, record.warned) == (952, 0, 3, True)


def test_a_session_budget_pair_is_two_round_trips(counted: Any) -> None:
    budget = SessionBudget(counted, session_cap=None)
    budget.reserve(100, session="s", user="u").commit(60, 30)  # first use of these scopes
    CountingConnection.reset()
    budget.reserve(100, session="s", user="u").commit(60, 30)
    assert (CountingConnection.sends, _names()) == (2, ["EVALSHA", "EVALSHA"])


def test_a_step_declares_the_keys_it_knows(counted: Any, prefix: str) -> None:
    """KEYS: the leases and scopes sets, the step's own key, then the scopes' hashes."""
    limits = [Limit("session:k", None, 60.0), Limit("global", 10, 60.0)]
    counted.reserve("rk", 5, limits, 30.0)
    counted.commit("rk", 1, 1, None, 0.8)
    counted.charge("ck", limits, 1, 1, cost=None, soft_ratio=0.8)
    sent = [c[2:] for c in CountingConnection.commands]
    common = [f"{prefix}leases", f"{prefix}scopes"]
    hashes = [f"{prefix}s:session:k", f"{prefix}s:global"]
    assert [int(c[0]) for c in sent] == [5, 3, 5]
    assert list(sent[0][1:6]) == [*common, f"{prefix}h:rk", *hashes]
    assert list(sent[1][1:4]) == [*common, f"{prefix}h:rk"]
    assert list(sent[2][1:6]) == [*common, f"{prefix}h:ck", *hashes]


def test_scripts_flushed_from_the_server_are_loaded_again(counted: Any, redis_url: str) -> None:
    """After SCRIPT FLUSH a step is answered NOSCRIPT (nothing ran), loads every script in
    one pipelined round trip and runs once: recorded once."""
    import redis

    limits = [Limit("session:f", None, 60.0)]
    counted.reserve("f1", 10, limits, 30.0)
    admin = redis.Redis.from_url(redis_url)
    admin.script_flush()
    admin.close()
    CountingConnection.reset()
    counted.commit("f1", 4, 3, None, 0.8)
    assert CountingConnection.sends == 3  # EVALSHA (NOSCRIPT), the pipeline, EVALSHA
    record = counted.status("session:f")
    assert (record.used, record.reserved, record.calls) == (7, 0, 1)


def _fields(record: Any) -> tuple[Any, ...]:
    return (
        record.cap, record.used, record.reserved, record.calls, record.input_tokens,
        record.output_tokens, record.cost, record.warned, record.exhausted, record.overspent,
        record.cached_input_tokens, record.cache_write_tokens, record.calls_unpriced,
    )  # fmt: skip


def test_charge_refuses_like_reserve_and_records_like_commit(redis_url: str, prefix: str) -> None:
    """One ledger charges, the other reserves then commits the same calls: the same
    verdicts, the same events and the same records; a refused charge records nothing."""
    from ctxbudget import ledger_from_url

    one = ledger_from_url(f"{redis_url}?prefix={prefix}one:")
    two = ledger_from_url(f"{redis_url}?prefix={prefix}two:")
    limits = [
        Limit("session:c", 1000, 60.0),
        Limit("user:u", 5000, 60.0),
        Limit("global", None, 60.0),
    ]
    calls = [
        (300, 100, 0.01, 50, 0),
        (400, 100, None, 0, 20),
        (150, 50, 0.5, 0, 0),
        (10, 0, None, 0, 0),
    ]
    for i, (inp, out, cost, cached, written) in enumerate(calls):
        extra = {"cached_input_tokens": cached, "cache_write_tokens": written}
        held, settled = one.charge(f"c{i}", limits, inp, out, cost=cost, soft_ratio=0.8, **extra)
        expect = two.reserve(f"c{i}", inp + out, limits, 60.0)
        assert held.ok == expect.ok
        if not expect.ok:
            assert settled is None
            assert held.exhausted == expect.exhausted
            assert _fields(held.refused) == _fields(expect.refused)
            continue
        want = two.commit(f"c{i}", inp, out, cost, 0.8, **extra)
        assert settled is not None
        for got, exp in [
            (settled.soft_warned, want.soft_warned),
            (settled.exhausted, want.exhausted),
        ]:
            assert [(r.scope, _fields(r)) for r in got] == [(r.scope, _fields(r)) for r in exp]
    for scope in ("session:c", "user:u", "global"):
        assert _fields(one.status(scope)) == _fields(two.status(scope))
    record = one.status("session:c")
    assert (record.used, record.calls, record.exhausted) == (910, 3, True)  # 3rd refused
    one.close()
    two.close()


def test_a_replayed_charge_returns_the_first_outcome_and_records_nothing_more(
    redis_url: str, prefix: str
) -> None:
    from ctxbudget import ReservationError, ledger_from_url

    ledger = ledger_from_url(f"{redis_url}?prefix={prefix}")
    limits = [Limit("session:r", 500, 60.0)]
    first = ledger.charge("same", limits, 300, 100, cost=0.25, soft_ratio=0.5)
    again = ledger.charge("same", limits, 300, 100, cost=0.25, soft_ratio=0.5)  # would not fit
    assert again == first
    assert first[1] is not None
    assert [r.scope for r in first[1].soft_warned] == ["session:r"]
    record = ledger.status("session:r")
    assert (record.used, record.calls, record.cost, record.reserved) == (400, 1, 0.25, 0)
    with pytest.raises(ReservationError):
        ledger.commit("same", 1, 1, None, 0.8)  # a charge leaves nothing to commit
    ledger.reserve("held", 10, limits, 30.0)
    with pytest.raises(ReservationError, match="active"):
        ledger.charge("held", limits, 1, 1, cost=None, soft_ratio=0.8)
    ledger.close()


@pytest.mark.parametrize("mode", ["close", "silent"])
def test_a_lost_charge_reply_never_charges_twice(
    proxy: DroppingProxy, prefix: str, mode: str
) -> None:
    """The client retries a charge whose reply was lost after the script ran; the replay
    records nothing and returns the first outcome."""
    from ctxbudget import ledger_from_url

    ledger = ledger_from_url(f"redis://127.0.0.1:{proxy.port}/0?prefix={prefix}&timeout=0.5")
    limits = [Limit("session:l", 1000, 60.0)]
    ledger.charge("warm", limits, 1, 0, cost=None, soft_ratio=0.8)  # scripts loaded
    proxy.arm(mode)
    held, settled = ledger.charge("lost", limits, 600, 200, cost=None, soft_ratio=0.8)
    assert proxy.dropped == 1
    assert held.ok
    assert settled is not None
    assert [r.scope for r in settled.soft_warned] == ["session:l"]
    record = ledger.status("session:l")
    assert (record.used, record.calls, record.reserved) == (801, 2, 0)
    ledger.close()
