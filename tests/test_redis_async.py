"""The async API on Redis runs through redis.asyncio: no worker thread, the loop never blocked."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
import redis

from ctxbudget import BudgetExhausted, LedgerError, ReservationError, SessionBudget

pytestmark = pytest.mark.redis

T = TypeVar("T")

#: Keeps the server busy for ARGV[1] seconds (scripts are atomic: nothing else runs meanwhile).
BUSY = """
local function now() local t = redis.call('TIME') return t[1] + t[2] / 1e6 end
local start = now()
while now() - start < tonumber(ARGV[1]) do end
return 1
"""


class NoThreads(concurrent.futures.ThreadPoolExecutor):
    """An executor that refuses work: a step sent to a worker thread fails the test."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a ledger step ran in a worker thread: {fn!r}")


def without_threads(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` on a loop whose default executor (``asyncio.to_thread``) refuses work."""

    async def runner() -> T:
        asyncio.get_running_loop().set_default_executor(NoThreads())
        return await main()

    return asyncio.run(runner())


def fresh(base: str, **caps: Any) -> SessionBudget:
    caps.setdefault("session_cap", 1_000)
    return SessionBudget(f"{base}?prefix=a-{uuid.uuid4().hex[:12]}:", **caps)


def test_every_async_step_runs_without_a_worker_thread(redis_url: str) -> None:
    """areserve, acommit, arollback, arenew, acharge, arecord, astatus and areap all go through
    redis.asyncio (a loop whose executor refuses work runs them all) and spend exactly as the
    sync steps do."""
    budget = fresh(redis_url, user_cap=5_000)

    async def main() -> None:
        held = await budget.areserve(300, session="s1", user="u1", heartbeat=False)
        await held.arenew(30)
        assert (await budget.astatus("s1")).reserved == 300
        await held.acommit(200, 50, cached_input_tokens=20)
        rolled = await budget.areserve(100, session="s1", heartbeat=False)
        await rolled.arollback()
        await budget.acharge(100, 0, session="s1", user="u1")
        await budget.arecord(10, 5, session="s1")
        with pytest.raises(BudgetExhausted) as refused:
            await budget.areserve(900, session="s1", heartbeat=False)
        assert refused.value.scope == "session:s1"
        assert await budget.areap() == 0
        assert (await budget.astatus(user="u1")).used == 350
        await budget.aclose()

    without_threads(main)
    check = SessionBudget(budget_url(budget), session_cap=1_000)
    status = check.status("s1")
    assert (status.used, status.reserved, status.calls) == (365, 0, 3)
    assert status.cached_input_tokens == 20
    check.close()


def budget_url(budget: SessionBudget) -> str:
    """The URL of ``budget``'s Redis ledger with its key prefix."""
    ledger: Any = budget.ledger
    client = ledger.client.connection_pool.connection_kwargs
    return f"redis://{client['host']}:{client['port']}/0?prefix={ledger.prefix}"


def test_the_loop_keeps_ticking_while_redis_is_busy(redis_url: str) -> None:
    """While the server runs another client's 1.5 s busy script, an areserve waits for it on
    the loop itself: a 10 ms ticker is never more than 50 ms late, no thread is used, and the
    reservation is held once the server answers."""
    budget = fresh(redis_url)
    budget.record(1, 0, session="warm")  # scripts loaded, persistence read
    host, port = redis_url.removeprefix("redis://").removesuffix("/0").split(":")

    async def main() -> tuple[float, float]:
        gaps: list[float] = []
        stop = asyncio.Event()

        async def tick() -> None:
            last = time.perf_counter()
            while not stop.is_set():
                await asyncio.sleep(0.01)
                now = time.perf_counter()
                gaps.append(now - last - 0.01)
                last = now

        ticker = asyncio.create_task(tick())
        blocker = redis.asyncio.Redis(host=host, port=int(port))
        sleeper = asyncio.create_task(blocker.eval(BUSY, 0, "1.5"))
        await asyncio.sleep(0.1)  # the server is asleep
        start = time.perf_counter()
        reservation = await budget.areserve(100, session="s1", heartbeat=False)
        waited = time.perf_counter() - start
        await reservation.acommit(60, 40)
        await sleeper
        await blocker.aclose()
        stop.set()
        await ticker
        await budget.aclose()
        return max(gaps), waited

    worst, waited = without_threads(main)
    assert waited >= 1.0  # it really waited for the server
    assert worst < 0.05


def test_a_cancelled_areserve_on_redis_holds_nothing(redis_url: str) -> None:
    """A task cancelled while its reserve script waits for a sleeping server rolls the hold
    back once the script returns."""
    budget = fresh(redis_url)
    budget.record(1, 0, session="warm")
    host, port = redis_url.removeprefix("redis://").removesuffix("/0").split(":")

    async def main() -> None:
        blocker = redis.asyncio.Redis(host=host, port=int(port))
        sleeper = asyncio.create_task(blocker.eval(BUSY, 0, "0.5"))
        await asyncio.sleep(0.05)
        task = asyncio.create_task(budget.areserve(400, session="s1", heartbeat=False))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await sleeper
        await blocker.aclose()
        await asyncio.sleep(0.3)  # the reserve returned, then the rollback ran
        await budget.aclose()

    without_threads(main)
    check = SessionBudget(budget_url(budget), session_cap=1_000)
    assert (check.status("s1").used, check.status("s1").reserved) == (0, 0)
    check.close()


def test_one_budget_serves_several_event_loops(redis_url: str) -> None:
    """Each event loop gets its own redis.asyncio client: a budget used by two asyncio.run
    calls one after the other (and by the sync API between them) keeps one ledger; each loop
    closes its own client with aclose_loop()."""
    budget = fresh(redis_url)
    ledger: Any = budget.ledger

    async def spend(tokens: int) -> None:
        reservation = await budget.areserve(tokens, session="s1", heartbeat=False)
        await reservation.acommit(tokens, 0)
        await ledger.aclose_loop()

    asyncio.run(spend(100))
    budget.record(50, 0, session="s1")
    asyncio.run(spend(200))
    assert budget.status("s1").used == 350
    budget.close()


def test_an_idempotent_retry_through_the_async_api_holds_once(redis_url: str) -> None:
    """areserve with an idempotency key, retried, holds once; a replayed acommit records once."""
    budget = fresh(redis_url)

    async def main() -> None:
        first = await budget.areserve(300, session="s1", idempotency_key="call-1")
        again = await budget.areserve(300, session="s1", idempotency_key="call-1")
        assert again.sync is first.sync
        await first.acommit(100, 0)
        await again.acommit(100, 0)  # a replay: the first commit stands
        await budget.aclose()

    without_threads(main)
    check = SessionBudget(budget_url(budget), session_cap=1_000)
    assert (check.status("s1").used, check.status("s1").calls) == (100, 1)
    check.close()


def test_async_steps_reload_scripts_the_server_forgot(redis_url: str) -> None:
    """After SCRIPT FLUSH the first async step gets NOSCRIPT, loads the scripts and runs once."""
    budget = fresh(redis_url)
    budget.record(1, 0, session="s1")
    redis.Redis.from_url(redis_url).script_flush()

    async def main() -> None:
        reservation = await budget.areserve(10, session="s1", heartbeat=False)
        await reservation.acommit(10, 0)
        await budget.aclose()

    without_threads(main)
    check = SessionBudget(budget_url(budget), session_cap=1_000)
    assert (check.status("s1").used, check.status("s1").calls) == (11, 2)
    check.close()


def test_unreachable_redis_fails_closed_or_open_through_the_async_api() -> None:
    """No server: the async steps raise the sync steps' LedgerError (failing closed) or let
    the call through unchecked (fail_open=True)."""
    port = _dead_port()
    closed = SessionBudget(f"redis://127.0.0.1:{port}/0?timeout=0.2", session_cap=100)
    opened = SessionBudget(f"redis://127.0.0.1:{port}/0?timeout=0.2&fail_open=true")

    async def main() -> None:
        with pytest.raises(LedgerError, match="unreachable"):
            await closed.areserve(10, session="s1", heartbeat=False)
        reservation = await opened.areserve(10, session="s1", heartbeat=False)
        await reservation.acommit(5, 5)
        assert (await opened.astatus("s1")).used == 0  # nothing could be recorded
        await closed.aclose()
        await opened.aclose()

    without_threads(main)


def test_a_settled_reservation_refuses_through_the_async_api(redis_url: str) -> None:
    """A second acommit without an idempotency key raises the sync ReservationError."""
    budget = fresh(redis_url)

    async def main() -> None:
        reservation = await budget.areserve(10, session="s1", heartbeat=False)
        await reservation.acommit(10, 0)
        with pytest.raises(ReservationError, match="committed"):
            await reservation.acommit(10, 0)
        await budget.aclose()

    without_threads(main)


def test_a_ledger_given_only_a_sync_client_runs_async_steps_in_a_thread(redis_url: str) -> None:
    """RedisLedger(redis.Redis(...)) has no async client: its async steps still work, in a
    worker thread."""
    from ctxbudget.session.ledgers._redis import RedisLedger

    ledger = RedisLedger(redis.Redis.from_url(redis_url), key_prefix=f"t-{uuid.uuid4().hex}:")
    budget = SessionBudget(ledger, session_cap=100)

    async def main() -> int:
        reservation = await budget.areserve(10, session="s1")
        await reservation.acommit(7, 0)
        used = (await budget.astatus("s1")).used
        await budget.aclose()
        return used

    assert asyncio.run(main()) == 7


def _dead_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_async_steps_run_on_a_redis_cluster(redis_cluster_url: str) -> None:
    """On a 3-primary cluster the async steps go through redis.asyncio's cluster client (no
    worker thread once the persistence check has run) and hold, refuse and commit as the
    sync steps do."""
    prefix = f"c-{uuid.uuid4().hex[:12]}:"
    url = f"{redis_cluster_url}&prefix={prefix}"
    budget = SessionBudget(url, session_cap=1_000, user_cap=1_500)
    budget.record(1, 0, session="warm")  # the persistence check reads a primary by the sync client

    async def main() -> None:
        held = await budget.areserve(600, session="s1", user="u1", heartbeat=False)
        with pytest.raises(BudgetExhausted):
            await budget.areserve(500, session="s1", heartbeat=False)
        await held.acommit(400, 100)
        await budget.acharge(200, 0, session="s2", user="u1")
        assert (await budget.astatus(user="u1")).used == 700
        await budget.aclose()

    without_threads(main)
    check = SessionBudget(url, session_cap=1_000)
    assert (check.status("s1").used, check.status("s2").used) == (500, 200)
    check.close()


def test_a_loop_that_ends_without_aclose_leaves_no_connection_open(redis_url: str) -> None:
    """asyncio.run ends the loop without the program calling aclose: the loop's redis.asyncio
    client is closed at the loop's shutdown, so the server sees no connection left behind."""
    admin = redis.Redis.from_url(redis_url)
    before = len(admin.client_list())
    budget = fresh(redis_url)

    async def main() -> None:
        reservation = await budget.areserve(10, session="s1", heartbeat=False)
        await reservation.acommit(10, 0)

    for _ in range(3):  # three loops one after another: each closes its own client
        asyncio.run(main())
    deadline = time.monotonic() + 5
    while len(admin.client_list()) > before and time.monotonic() < deadline:
        time.sleep(0.05)  # the server notices closed sockets asynchronously
    assert len(admin.client_list()) == before
    assert budget.status("s1").used == 30
    budget.close()
    admin.close()
