"""Row ledgers (memory, SQLite): charge() as one step, atomic steps without copies, and SQLite
group commit (concurrent steps in one transaction, each with its own outcome and error)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ctxbudget import LedgerError, ReservationError
from ctxbudget.session.ledgers import Limit, MemoryLedger, RowLedger, SQLiteLedger, _sqlite

NOW = 1_000_000.0
LIMITS = [
    Limit("session:s", None, 3600.0),
    Limit("user:u", 1_000, 7200.0),
    Limit("global", None, 60.0),
]


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], RowLedger]]:
    """A factory of fresh row ledgers of one kind, on a fixed clock."""
    made: list[RowLedger] = []

    def new() -> RowLedger:
        clock = lambda: NOW  # noqa: E731
        ledger: RowLedger
        if request.param == "memory":
            ledger = MemoryLedger(clock=clock)
        else:
            ledger = SQLiteLedger(tmp_path / f"l{len(made)}.db", clock=clock)
        made.append(ledger)
        return ledger

    yield new
    for ledger in made:
        ledger.close()


def records(ledger: RowLedger) -> dict[str, Any]:
    return {s: vars(ledger.status(s)) for s in ledger.scopes()}


def test_charge_records_exactly_what_reserve_then_commit_records(
    make: Callable[[], RowLedger],
) -> None:
    """A charge leaves every scope as a reserve of input+output and its commit leave it."""
    charged, paired = make(), make()
    for ledger in (charged, paired):
        ledger.record(LIMITS, 500, 200, 0.5, 0.8)  # spend before: the charge crosses soft-warn
    held, settled = charged.charge(
        "c1",
        LIMITS,
        60,
        40,
        cost=0.25,
        soft_ratio=0.8,
        cached_input_tokens=30,
        cache_write_tokens=5,
    )
    assert paired.reserve("c1", 100, LIMITS, 60.0).ok
    expected = paired.commit("c1", 60, 40, 0.25, 0.8, cached_input_tokens=30, cache_write_tokens=5)
    assert held.ok
    assert settled == expected
    assert [r.scope for r in settled.soft_warned] == ["user:u"]
    assert records(charged) == records(paired)
    assert charged.status("user:u").used == 800  # type: ignore[union-attr]


def test_charge_is_refused_exactly_as_reserve_is_and_records_nothing(
    make: Callable[[], RowLedger],
) -> None:
    """Over a cap, charge refuses with reserve's numbers and leaves the scopes as reserve does."""
    charged, reserved = make(), make()
    for ledger in (charged, reserved):
        ledger.record(LIMITS, 900, 50, 0.1, 0.8)
    before = records(charged)
    held, settled = charged.charge("c1", LIMITS, 60, 40, cost=0.2, soft_ratio=0.8)
    refusal = reserved.reserve("c1", 100, LIMITS, 60.0)
    assert settled is None
    assert held == refusal
    assert not held.ok
    assert held.refused is not None
    assert (held.refused.scope, held.refused.used, held.refused.cap) == ("user:u", 950, 1_000)
    assert held.exhausted  # 50 tokens of room left for a call of 100: found exhausted once
    assert records(charged) == records(reserved)
    after = records(charged)
    after["user:u"]["exhausted"] = before["user:u"]["exhausted"]
    assert after == before  # nothing spent, held or counted: only the exhausted mark


def test_a_replayed_charge_records_nothing_more(make: Callable[[], RowLedger]) -> None:
    """The same reservation id charged twice spends once; the replay reports nothing new."""
    ledger = make()
    first = ledger.charge("c1", LIMITS, 600, 300, cost=1.0, soft_ratio=0.8)
    assert first[1] is not None
    assert first[1].soft_warned
    once = records(ledger)
    held, settled = ledger.charge("c1", LIMITS, 600, 300, cost=1.0, soft_ratio=0.8)
    assert held.ok
    assert settled is not None
    assert settled.soft_warned == ()
    assert records(ledger) == once
    assert once["user:u"]["calls"] == 1
    with pytest.raises(ReservationError):
        ledger.commit("c1", 1, 1, None, 0.8)  # a charge is settled already


def test_charge_of_a_reservation_id_is_refused(make: Callable[[], RowLedger]) -> None:
    """Charging the id of an open reservation raises and changes nothing."""
    ledger = make()
    assert ledger.reserve("r1", 100, LIMITS, 60.0).ok
    before = records(ledger)
    with pytest.raises(ReservationError, match="reservation"):
        ledger.charge("r1", LIMITS, 10, 10, cost=None, soft_ratio=0.8)
    assert records(ledger) == before


def test_a_refusal_by_a_later_scope_changes_no_earlier_scope(
    make: Callable[[], RowLedger],
) -> None:
    """Records are changed in place only after every check: a refusal at the second scope
    leaves the first as it was (memory hands out its live records)."""
    ledger = make()
    assert ledger.reserve("r0", 10, [Limit("session:s", None, 60.0)], 60.0).ok
    before = records(ledger)
    limits = [Limit("session:s", 5_000, 60.0), Limit("user:u", 50, 60.0)]
    assert not ledger.reserve("r1", 100, limits, 60.0).ok
    after = records(ledger)
    assert after["session:s"] == before["session:s"]  # not even its cap
    status = ledger.status("session:s")
    assert status is not None
    status.reserved = 10**9  # a status is a copy
    assert ledger.status("session:s").reserved == 10  # type: ignore[union-attr]


def test_sqlite_charge_is_one_transaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """charge() on SQLite is one BEGIN IMMEDIATE ... COMMIT, not a reserve and a commit."""
    statements = traced(monkeypatch)
    ledger = SQLiteLedger(tmp_path / "l.db")
    statements.clear()
    ledger.charge("c1", LIMITS, 60, 40, cost=0.1, soft_ratio=0.8)
    assert statements.count("BEGIN IMMEDIATE") == 1
    assert statements.count("COMMIT") == 1
    assert len(statements) <= 8  # reclaim, hold, scopes read, scopes write, hold write
    ledger.close()


def traced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement the SQLite ledger's connections run from now on."""
    statements: list[str] = []
    connect = sqlite3.connect

    def tracing(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = connect(*args, **kwargs)
        db.set_trace_callback(statements.append)
        return db

    monkeypatch.setattr(_sqlite.sqlite3, "connect", tracing)
    return statements


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "the steps never queued"
        time.sleep(0.005)


def test_sqlite_group_commit_batches_waiting_steps_each_with_its_own_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process holds the write lock, the steps of 8 threads queue; they land in
    one transaction, each with its own result or error, and a failing step's writes (scopes
    written before its hold failed) are undone alone."""
    path = tmp_path / "l.db"
    statements = traced(monkeypatch)
    ledger = SQLiteLedger(path)
    assert ledger.reserve("warm", 1, LIMITS, 60.0).ok
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    statements.clear()
    results: dict[str, Any] = {}

    def step(name: str, call: Callable[[], Any]) -> None:
        try:
            results[name] = call()
        except Exception as exc:  # each thread keeps what its own step raised
            results[name] = exc

    def reserve(rid: str, owner: Any = None) -> Callable[[], Any]:
        return lambda: ledger.reserve(rid, 10, LIMITS, 60.0, owner)

    batch = ledger._batch  # the test waits for the queue it checks
    first = threading.Thread(target=step, args=("lead", reserve("lead")))
    first.start()
    wait_for(lambda: batch._leading and not batch._pending)
    calls: dict[str, Callable[[], Any]] = {f"r{i}": reserve(f"r{i}") for i in range(6)}
    calls["unknown"] = lambda: ledger.commit("nobody", 1, 1, None, 0.8)
    calls["unbindable"] = reserve("bad", owner=object())  # fails after writing its scopes
    threads = [threading.Thread(target=step, args=item) for item in calls.items()]
    for t in threads:
        t.start()
    wait_for(lambda: len(batch._pending) == len(calls))
    blocker.execute("COMMIT")
    for t in [first, *threads]:
        t.join()
    blocker.close()
    assert statements.count("BEGIN IMMEDIATE") == 2  # the leader's own, then the 8 queued
    assert statements.count("SAVEPOINT step") == len(calls)  # the 8 in one transaction
    assert statements.count("ROLLBACK TO step") == 2  # the two failing steps, alone
    assert all(results[f"r{i}"].ok for i in range(6))
    assert results["lead"].ok
    assert isinstance(results["unknown"], ReservationError)
    assert isinstance(results["unbindable"], LedgerError)
    assert ledger.status("user:u").reserved == 1 + 7 * 10  # type: ignore[union-attr]
    with pytest.raises(ReservationError):
        ledger.rollback("bad")  # nothing of the failed step was kept
    reopened = SQLiteLedger(path)  # committed: another connection reads every hold
    assert reopened.status("global").reserved == 71  # type: ignore[union-attr]
    reopened.close()
    ledger.close()


def test_sqlite_steps_of_many_threads_all_land(tmp_path: Path) -> None:
    """8 threads x 50 reserve+commit pairs through group commit: every pair is in the file."""
    ledger = SQLiteLedger(tmp_path / "l.db", synchronous="normal")

    def work(t: int) -> None:
        for i in range(50):
            rid = f"{t}-{i}"
            assert ledger.reserve(rid, 10, LIMITS[:1] + LIMITS[2:], 60.0).ok
            ledger.commit(rid, 3, 2, 0.01, 0.8)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ledger.close()
    reopened = SQLiteLedger(tmp_path / "l.db")
    status = reopened.status("global")
    assert status is not None
    assert (status.calls, status.used, status.reserved) == (400, 2_000, 0)
    assert status.cost == pytest.approx(4.0)
    reopened.close()


class _FailingCommit:
    """A connection whose COMMIT fails (a full disk, an I/O error); all else is the real one."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error")
        return self.db.execute(sql, *args)

    @property
    def in_transaction(self) -> bool:
        return self.db.in_transaction


@pytest.mark.parametrize("steps", [1, 3])
def test_a_failed_commit_fails_every_step_of_its_batch_and_keeps_nothing(
    tmp_path: Path, steps: int
) -> None:
    """When the batch's COMMIT fails, every step in it raises LedgerError, even those whose
    own work succeeded, and none of their writes is in the file."""
    from ctxbudget.session.ledgers._batch import GroupCommit, _Entry

    path = tmp_path / "g.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE t (v INTEGER)")
    group = GroupCommit(lambda: _FailingCommit(db), lambda: None, "sqlite:///g.db")  # type: ignore[arg-type, return-value]

    def insert(value: int) -> Callable[[Any], int]:
        return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (value,)).rowcount

    batch = [_Entry(insert(i)) for i in range(steps)]
    group._execute(batch)
    assert all(isinstance(e.error, LedgerError) for e in batch)
    assert all("cannot commit" in str(e.error) for e in batch)
    assert not db.in_transaction
    check = sqlite3.connect(path)
    assert check.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
    check.close()
    db.close()


def test_sqlite_older_than_upsert_is_a_one_line_ledger_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Python linked against SQLite < 3.24 (no upsert) gets a clear LedgerError."""
    monkeypatch.setattr(_sqlite.sqlite3, "sqlite_version_info", (3, 22, 0))
    monkeypatch.setattr(_sqlite.sqlite3, "sqlite_version", "3.22.0")
    with pytest.raises(LedgerError, match=r"needs SQLite >= 3\.24.*links SQLite 3\.22\.0"):
        SQLiteLedger(tmp_path / "old.db")
