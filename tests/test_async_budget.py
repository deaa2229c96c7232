"""The async session-budget API: the same steps, never blocking the event loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctxbudget import BudgetExhausted, SessionBudget

#: Holds SQLite's write lock on the file given as argv[1] for argv[2] seconds.
_LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def hold_the_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """A process that holds the SQLite write lock of ``path`` for ``seconds``, once it holds it."""
    locker = subprocess.Popen(
        [sys.executable, "-c", _LOCKER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert locker.stdout is not None
    assert locker.stdout.readline().strip() == "locked"
    return locker


async def _ticker(stop: asyncio.Event, gaps: list[float]) -> None:
    """Wakes every 10 ms and records how late each wake-up was."""
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        gaps.append(now - last - 0.01)
        last = now


def test_areserve_never_stalls_the_loop_while_another_process_holds_the_lock(
    tmp_path: Path,
) -> None:
    """While another process holds the SQLite write lock for 2 s, an areserve waits for it in a
    worker thread: a 10 ms ticker on the loop is never more than 50 ms late, and the
    reservation succeeds once the lock is released."""
    path = tmp_path / "spend.db"
    budget = SessionBudget(f"sqlite:///{path}", session_cap=1_000)
    budget.record(1, 0, session="warm")  # the file and its tables exist
    locker = hold_the_lock(path, 2)

    async def main() -> tuple[float, float, str]:
        stop, gaps = asyncio.Event(), []
        ticker = asyncio.create_task(_ticker(stop, gaps))
        await asyncio.sleep(0.05)  # the ticker is running before the step starts
        start = time.perf_counter()
        reservation = await budget.areserve(100, session="s1")
        waited = time.perf_counter() - start
        await reservation.acommit(60, 40)
        stop.set()
        await ticker
        return max(gaps), waited, reservation.state

    worst, waited, state = asyncio.run(main())
    locker.wait(timeout=30)
    assert locker.stdout is not None
    locker.stdout.close()
    assert waited >= 1.0  # it really waited for the other process's lock
    assert worst < 0.05
    assert state == "committed"
    assert budget.status("s1").used == 100
    budget.close()


def test_the_async_methods_spend_like_the_sync_ones() -> None:
    """areserve/acommit, arollback, acharge, arecord, astatus and areap do what their sync
    forms do; refusals raise the same BudgetExhausted."""
    budget = SessionBudget("memory://", session_cap=1_000)

    async def main() -> None:
        r = await budget.areserve(300, session="s1")
        assert (r.tokens, r.state) == (300, "active")
        assert (await budget.astatus("s1")).reserved == 300
        await r.acommit(200, 50)
        rolled = await budget.areserve(100, session="s1")
        await rolled.arollback()
        await budget.acharge(100, 0, session="s1")
        await budget.arecord(10, 0, session="s1")
        with pytest.raises(BudgetExhausted):
            await budget.areserve(900, session="s1")
        async with await budget.areserve(50, session="s1") as left:
            assert left.state == "active"
        assert left.state == "rolled_back"  # left without a commit
        assert await budget.areap() == 0

    asyncio.run(main())
    status = budget.status("s1")
    assert (status.used, status.reserved, status.calls) == (360, 0, 3)


def test_a_cancelled_areserve_leaves_nothing_held(tmp_path: Path) -> None:
    """Cancelling the task while its reserve step waits rolls the reservation back once the
    step returns: no tokens stay held."""
    path = tmp_path / "spend.db"
    budget = SessionBudget(f"sqlite:///{path}", session_cap=1_000)
    budget.record(1, 0, session="warm")
    locker = hold_the_lock(path, 0.5)

    async def main() -> None:
        task = asyncio.create_task(budget.areserve(400, session="s1"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(1.5)  # the step returns after the lock, then rolls back

    asyncio.run(main())
    locker.wait(timeout=30)
    assert locker.stdout is not None
    locker.stdout.close()
    status = budget.status("s1")
    assert (status.used, status.reserved) == (0, 0)
    budget.close()


@pytest.mark.postgres
def test_areserve_never_stalls_the_loop_while_postgres_holds_a_lock(postgres_url: str) -> None:
    """While another process (psql) holds an exclusive lock on the ledger's scopes table for
    1.5 s, an areserve waits for it in a worker thread: a 10 ms ticker on the loop is never
    more than 50 ms late, and the reservation is held once the lock is released."""
    import shutil
    import uuid

    psql = shutil.which("psql")
    assert psql is not None, "psql (Debian's postgresql-client) is not installed"
    prefix = f"t_{uuid.uuid4().hex[:12]}_"
    budget = SessionBudget(f"{postgres_url}?prefix={prefix}", session_cap=1_000)
    budget.record(1, 0, session="warm")  # the tables exist
    sql = f'BEGIN; LOCK TABLE "{prefix}scopes" IN EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;'
    locker = subprocess.Popen(
        [psql, postgres_url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)  # psql connected and took the lock

    async def main() -> tuple[float, float, str]:
        stop, gaps = asyncio.Event(), []
        ticker = asyncio.create_task(_ticker(stop, gaps))
        await asyncio.sleep(0.05)
        start = time.perf_counter()
        reservation = await budget.areserve(100, session="s1")
        waited = time.perf_counter() - start
        await reservation.acommit(60, 40)
        stop.set()
        await ticker
        await budget.aclose()
        return max(gaps), waited, reservation.state

    worst, waited, state = asyncio.run(main())
    _, errors = locker.communicate(timeout=30)
    assert locker.returncode == 0, errors
    assert waited >= 0.5  # it really waited for the other process's lock
    assert worst < 0.05
    assert state == "committed"
