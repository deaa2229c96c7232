"""Leases: a live holder keeps its tokens; a late commit is recorded and reported as overspent.

Every test runs on every ledger (memory, SQLite, a real Redis) unless it names one.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from ctxbudget import (
    BudgetEvent,
    BudgetExhausted,
    ReservationError,
    SessionBudget,
    aguard,
    guard,
)
from ctxbudget.testing import CharTokenizer


def collect(budget: SessionBudget, *names: str) -> list[BudgetEvent]:
    seen: list[BudgetEvent] = []
    for name in names:
        budget.on(name, seen.append)  # type: ignore[arg-type]
    return seen


def test_a_live_reservation_outlives_its_lease(ledger_url: str) -> None:
    """The issue's example: with a heartbeat the first holder keeps its tokens past the
    lease, so the second reserve is refused and the cap is never passed (before the fix the
    second reserve was accepted and used reached 2000 on a 1000 cap)."""
    b = SessionBudget(ledger_url, session_cap=1000, lease_s=0.6)
    r1 = b.reserve(1000, session="s")
    time.sleep(1.0)
    with pytest.raises(BudgetExhausted):
        b.reserve(1000, session="s")
    r1.commit(1000, 0)
    assert not r1.lease_had_expired
    status = b.status("s")
    assert (status.used, status.reserved, status.overspent) == (1000, 0, 0)


def test_a_late_commit_is_recorded_and_reported_as_overspent(ledger_url: str) -> None:
    """A manual reservation nobody renewed is reclaimed; its late commit is recorded (the
    tokens were spent), fires overspent with the numbers, counts in status, and the scope
    refuses new reservations until it is back under its cap."""
    b = SessionBudget(ledger_url, session_cap=1000, lease_s=0.3)
    seen = collect(b, "overspent")
    r1 = b.reserve(1000, session="s", heartbeat=False)
    time.sleep(0.5)
    r2 = b.reserve(1000, session="s")  # r1 is gone: its tokens went back to the pool
    r1.commit(1000, 0)
    assert r1.lease_had_expired
    assert r1.lease_lost
    assert [(e.scope, e.tokens, e.reservation_id) for e in seen] == [("session:s", 1000, r1.id)]
    assert seen[0].detail == {"cause": "lease_lost", "spent": 1000, "cap": 1000}
    status = b.status("s")
    assert (status.used, status.reserved, status.overspent, status.overspends) == (
        1000,
        1000,
        1000,
        1,
    )
    with pytest.raises(BudgetExhausted):
        b.reserve(1, session="s")
    r2.rollback()
    with pytest.raises(BudgetExhausted):  # used == cap: still no room
        b.reserve(1, session="s")
    assert b.status("s").state == "exhausted"


def test_a_late_commit_with_room_left_is_no_overspend(ledger_url: str) -> None:
    b = SessionBudget(ledger_url, session_cap=1000, lease_s=0.2)
    seen = collect(b, "overspent")
    r = b.reserve(300, session="s", heartbeat=False)
    time.sleep(0.4)
    b.reap()
    r.commit(200, 0)
    assert r.lease_had_expired
    assert seen == []
    assert (b.status("s").used, b.status("s").overspent) == (200, 0)


def test_commit_beyond_the_reservation_is_an_overspend(ledger_url: str) -> None:
    b = SessionBudget(ledger_url, session_cap=300)
    seen = collect(b, "overspent")
    b.reserve(100, session="s").commit(400, 100)
    assert [(e.tokens, e.detail) for e in seen] == [
        (200, {"cause": "over_reservation", "spent": 500, "cap": 300})
    ]
    assert b.status("s").overspent == 200


def test_record_past_the_cap_is_an_overspend(ledger_url: str) -> None:
    b = SessionBudget(ledger_url, session_cap=100)
    seen = collect(b, "overspent")
    b.record(60, 0, session="s")
    b.record(60, 0, session="s")
    assert [(e.tokens, e.reservation_id, e.detail["cause"]) for e in seen] == [  # type: ignore[index]
        (20, None, "unreserved")
    ]
    assert (b.status("s").overspent, b.status("s").overspends) == (20, 1)


def test_renew_keeps_a_manual_reservation(ledger_url: str) -> None:
    b = SessionBudget(ledger_url, session_cap=1000, lease_s=0.4)
    r = b.reserve(800, session="s", heartbeat=False)
    for _ in range(5):
        time.sleep(0.15)
        r.renew()
    with pytest.raises(BudgetExhausted):
        b.reserve(800, session="s")
    r.commit(10, 0)
    assert not r.lease_had_expired
    with pytest.raises(ReservationError, match="committed"):
        r.renew()


def test_renew_after_the_hold_was_reclaimed_says_so(ledger_url: str) -> None:
    b = SessionBudget(ledger_url, session_cap=1000, lease_s=0.2)
    r = b.reserve(800, session="s", heartbeat=False)
    time.sleep(0.4)
    b.reap()
    with pytest.raises(ReservationError) as info:
        r.renew()
    assert info.value.state == "expired"
    assert r.lease_lost
    assert r.state == "active"
    r.commit(5, 0)  # still recorded
    assert b.status("s").used == 5


def test_a_hold_past_its_lease_not_yet_reclaimed_commits_normally(ledger_url: str) -> None:
    """Nobody took the tokens back yet, so the commit is not late (no false overspend)."""
    b = SessionBudget(ledger_url, session_cap=1000, lease_s=0.2)
    seen = collect(b, "overspent", "reservation_expired")
    r = b.reserve(1000, session="s", heartbeat=False)
    time.sleep(0.4)
    r.commit(1000, 0)
    assert not r.lease_had_expired
    assert seen == []


def test_guard_heartbeats_a_call_longer_than_the_lease(ledger_url: str) -> None:
    b = SessionBudget(ledger_url, session_cap=1000, lease_s=0.3, tokenizer=CharTokenizer())
    refused: list[bool] = []

    def slow_call() -> dict[str, Any]:
        time.sleep(0.8)
        try:
            b.reserve(500, session="s").rollback()
            refused.append(False)
        except BudgetExhausted:
            refused.append(True)
        return {"usage": {"prompt_tokens": 10, "completion_tokens": 5}}

    guard(b, slow_call, prompt="x" * 10, max_output_tokens=600, session="s")
    assert refused == [True]
    status = b.status("s")
    assert (status.used, status.reserved, status.overspent) == (15, 0, 0)


def test_aguard_heartbeats_without_blocking_the_event_loop(ledger_url: str) -> None:
    b = SessionBudget(ledger_url, session_cap=1000, lease_s=0.3, tokenizer=CharTokenizer())
    seen = collect(b, "reservation_expired", "overspent")

    async def slow_call() -> dict[str, Any]:
        await asyncio.sleep(0.8)
        with pytest.raises(BudgetExhausted):
            b.reserve(500, session="s")
        return {"usage": {"prompt_tokens": 10, "completion_tokens": 5}}

    asyncio.run(aguard(b, slow_call, prompt="x" * 10, max_output_tokens=600, session="s"))
    assert seen == []
    assert b.status("s").used == 15


def test_a_dropped_reservation_is_rolled_back_by_the_heartbeat(
    ledger_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The heartbeat finds the drop at its next beat (a third of the lease); a lease long
    # enough that a beat late by a loaded machine still comes before the lease ends (else the
    # lease reclaims the hold first, as it should, and no rollback is logged).
    b = SessionBudget(ledger_url, session_cap=1000, lease_s=3.0)
    r = b.reserve(700, session="s")
    dropped = r.id
    del r
    with warnings.catch_warnings():  # only this test's drop matters here, not earlier garbage
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    deadline = time.monotonic() + 10
    with caplog.at_level(logging.WARNING, logger="ctxbudget.session"):
        while b.status("s").reserved and time.monotonic() < deadline:
            time.sleep(0.05)
    assert b.status("s").reserved == 0
    assert any(dropped in m for m in caplog.messages)
    with pytest.raises(ReservationError) as info:
        b.ledger.commit(dropped, 1, 0, 0.0, 0.8)
    assert info.value.state == "rolled_back"


def test_settled_reservations_leave_the_heartbeat() -> None:
    from ctxbudget.session._heartbeat import HEARTBEAT

    b = SessionBudget("memory://", session_cap=None)
    before = len(HEARTBEAT)
    rs = [b.reserve(10, session="s") for _ in range(50)]
    assert len(HEARTBEAT) == before + 50
    for i, r in enumerate(rs):
        r.commit(1, 0) if i % 2 else r.rollback()
    assert len(HEARTBEAT) == before


def test_sqlite_live_owner_keeps_its_hold_while_the_write_lock_is_busy(tmp_path: Path) -> None:
    """The measured failure: with a busy SQLite write lock the heartbeat cannot renew in
    time; the hold of a process still running is still never reclaimed."""
    path = tmp_path / "busy.db"
    url = f"sqlite:///{path}"
    holder = SessionBudget(url, session_cap=1000, lease_s=0.3)
    r = holder.reserve(900, session="s")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # nobody can write, renew included
    time.sleep(0.8)
    blocker.execute("COMMIT")
    blocker.close()
    other = SessionBudget(url, session_cap=1000, lease_s=0.3)  # another handle, same host
    with pytest.raises(BudgetExhausted):
        other.reserve(200, session="s")
    r.commit(900, 0)
    assert not r.lease_had_expired
    assert other.status("s").overspent == 0


def test_sqlite_file_from_an_older_release_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE scopes (scope TEXT PRIMARY KEY, cap INTEGER,
            used INTEGER NOT NULL DEFAULT 0, reserved INTEGER NOT NULL DEFAULT 0,
            calls INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0,
            created REAL NOT NULL, updated REAL NOT NULL, warned INTEGER NOT NULL DEFAULT 0,
            exhausted INTEGER NOT NULL DEFAULT 0, expires REAL NOT NULL DEFAULT 0);
        CREATE TABLE holds (id TEXT PRIMARY KEY, tokens INTEGER NOT NULL,
            scopes TEXT NOT NULL, state TEXT NOT NULL, created REAL NOT NULL,
            expires REAL NOT NULL, retention REAL NOT NULL);
        INSERT INTO scopes (scope, cap, used, created, updated, expires)
            VALUES ('session:old', 1000, 250, 1.0, 1.0, 9e12);
        """
    )
    db.commit()
    db.close()
    b = SessionBudget(f"sqlite:///{path}", session_cap=1000)
    assert b.status("old").used == 250
    b.reserve(100, session="old").commit(100, 0)
    assert (b.status("old").used, b.status("old").overspent) == (350, 0)


def test_many_threads_with_a_short_lease_never_overspend(ledger_url: str) -> None:
    """Threads whose calls last longer than the lease: every hold is renewed, never lost."""
    cap = 2000
    b = SessionBudget(ledger_url, session_cap=cap, lease_s=0.3)
    spent: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(3):
            try:
                with b.reserve(300, session="race") as r:
                    time.sleep(0.5)
                    r.commit(250, 50)
                    with lock:
                        spent.append(300)
            except BudgetExhausted:  # noqa: PERF203 - the refusal is the point
                time.sleep(0.05)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    status = b.status("race")
    assert status.used == sum(spent) <= cap
    assert (status.reserved, status.overspent) == (0, 0)


def test_close_rolls_back_open_reservations_and_stops_their_heartbeat(tmp_path: Path) -> None:
    from ctxbudget.session._heartbeat import HEARTBEAT

    url = f"sqlite:///{tmp_path / 'close.db'}"
    b = SessionBudget(url, session_cap=1000)
    before = len(HEARTBEAT)
    r = b.reserve(600, session="s")
    assert len(HEARTBEAT) == before + 1
    b.close()
    assert len(HEARTBEAT) == before
    assert r.state == "rolled_back"
    other = SessionBudget(url, session_cap=1000)
    assert other.status("s").reserved == 0
    other.reserve(1000, session="s").rollback()


def test_memory_ledger_steps_never_scan_every_reservation() -> None:
    """Before: each step scanned every reservation kept (settled ones for 7 days), so pairs/s
    fell from 8.2k to 745 after 30k pairs. Now expired leases come off a heap: a step after
    20,000 settled pairs touches no more holds than the first one did."""
    from ctxbudget.session.ledgers import Limit, MemoryLedger, _memory

    ledger = MemoryLedger()
    limits = [Limit("session:s", None, 3600.0)]
    touched: list[int] = []
    original = _memory._DictRows.expired_holds

    def spy(self: Any, now: float) -> list[Any]:
        touched.append(len(self._leases))
        return original(self, now)

    _memory._DictRows.expired_holds = spy  # type: ignore[method-assign]
    try:
        for i in range(20_000):
            ledger.reserve(str(i), 10, limits, 300.0)
            ledger.commit(str(i), 5, 5, 0.0, 0.8)
    finally:
        _memory._DictRows.expired_holds = original  # type: ignore[method-assign]
    assert max(touched) <= 2 * 1 + 1024 + 1  # the heap is rebuilt when mostly stale
    assert len(ledger._rows.active) == 0
    assert len(ledger._rows.settled) == 20_000


def test_a_lease_renewed_to_the_same_end_is_reclaimed_once() -> None:
    """Found by the stateful test: a renewal that did not move the lease's end put a second
    heap entry for it, so a reap reclaimed it twice and released another holder's tokens."""
    from ctxbudget.session.ledgers import MemoryLedger

    now = [1_000.0]
    b = SessionBudget(MemoryLedger(clock=lambda: now[0]), session_cap=1000, lease_s=10)
    manual = b.reserve(1, session="a", heartbeat=False)
    manual.renew()  # same instant: the lease ends when it did
    live = b.reserve(1, session="a")  # heartbeated: its owner (this process) is running
    now[0] += 11
    assert b.reap() == 1
    assert b.status("a").reserved == 1
    live.rollback()
