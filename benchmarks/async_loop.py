"""How late an event loop's ticker runs while ``aguard`` waits for a blocked ledger.

Run by hand from the repository root::

    python -m benchmarks.async_loop            # about 10 s

Two cases, as the issue measured the old code (a 100 ms ticker stalled 2.00 s while another
process held the SQLite write lock for 2 s):

- SQLite: another process holds the write lock (``BEGIN IMMEDIATE``) for 2 s while ``aguard``
  reserves; the step waits in a worker thread;
- Redis: the server runs a 2 s busy script (nothing else runs meanwhile) while ``aguard``
  reserves; the step waits on the loop itself, through ``redis.asyncio``.

Printed: how long ``aguard`` waited and the ticker's worst lateness.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.ledgers import _quiet

LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE"); print("locked", flush=True); time.sleep(2); db.execute("ROLLBACK")
"""
BUSY = """
local function now() local t = redis.call('TIME') return t[1] + t[2] / 1e6 end
local s = now() while now() - s < 2 do end return 1
"""


async def measure(budget: Any, block: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    """``(worst ticker lateness s, aguard's wait s, what block returned)``."""
    from ctxbudget import aguard

    gaps: list[float] = []
    stop = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.1)
            now = time.perf_counter()
            gaps.append(now - last - 0.1)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.25)
    blocker = await block()  # (starting the SQLite locker blocks the loop: not counted)
    await asyncio.sleep(0.1)
    gaps.clear()

    async def call() -> dict[str, Any]:
        return {"usage": {"prompt_tokens": 10, "completion_tokens": 5}}

    start = time.perf_counter()
    await aguard(budget, call, prompt="hello", max_output_tokens=50, session="s1")
    waited = time.perf_counter() - start
    await asyncio.sleep(0.3)
    stop.set()
    await ticker
    return max(gaps), waited, blocker


def sqlite_case() -> tuple[float, float]:
    from ctxbudget import SessionBudget

    path = Path(tempfile.mkdtemp()) / "ledger.db"
    budget = SessionBudget(f"sqlite:///{path}")
    budget.record(1, 0, session="warm")

    async def block() -> subprocess.Popen[str]:
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert locker.stdout is not None
        locker.stdout.readline()
        return locker

    worst, waited, locker = asyncio.run(measure(budget, block))
    locker.communicate(timeout=30)
    budget.close()
    return worst, waited


def redis_case() -> tuple[float, float]:
    import redis.asyncio

    from benchmarks.harness import start_redis
    from ctxbudget import SessionBudget

    proc, url = start_redis()
    try:
        budget = SessionBudget(url)
        budget.record(1, 0, session="warm")

        async def main() -> tuple[float, float]:
            client = redis.asyncio.Redis.from_url(url)

            async def block() -> asyncio.Task[Any]:
                task = asyncio.create_task(client.eval(BUSY, 0))
                await asyncio.sleep(0.1)  # the script runs
                return task

            worst, waited, task = await measure(budget, block)
            await task
            await client.aclose()
            await budget.aclose()
            return worst, waited

        return asyncio.run(main())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    """Measure both cases and print them."""
    with _quiet():
        for name, case in (("sqlite", sqlite_case), ("redis", redis_case)):
            worst, waited = case()
            late = worst * 1000
            print(f"{name}: aguard waited {waited:.2f} s; worst ticker lateness {late:.1f} ms")


if __name__ == "__main__":
    main()
