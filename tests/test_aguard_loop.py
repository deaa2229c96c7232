"""aguard never blocks the event loop: its ledger steps run in worker threads."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.test_async_budget import _ticker, hold_the_lock

from ctxbudget import SessionBudget


def test_aguard_never_stalls_the_loop_while_another_process_holds_the_lock(
    tmp_path: Path,
) -> None:
    """aguard reserves and commits in worker threads: with the SQLite write lock held by another
    process for 2 s, a 10 ms ticker is never more than 50 ms late (it stalled 2.00 s before)."""
    from ctxbudget import aguard

    path = tmp_path / "spend.db"
    budget = SessionBudget(f"sqlite:///{path}", session_cap=10_000)
    budget.record(1, 0, session="warm")
    locker = hold_the_lock(path, 2)

    async def call() -> tuple[int, int]:
        await asyncio.sleep(0.01)
        return (120, 30)

    async def main() -> float:
        stop, gaps = asyncio.Event(), []
        ticker = asyncio.create_task(_ticker(stop, gaps))
        await asyncio.sleep(0.05)  # the ticker is running before the step starts
        result = await aguard(
            budget,
            call,
            prompt="hello",
            max_output_tokens=100,
            session="s1",
            usage=lambda r: r,
        )
        assert result == (120, 30)
        stop.set()
        await ticker
        return max(gaps)

    worst = asyncio.run(main())
    locker.wait(timeout=30)
    assert locker.stdout is not None
    locker.stdout.close()
    assert worst < 0.05
    assert budget.status("s1").used == 150
    budget.close()
