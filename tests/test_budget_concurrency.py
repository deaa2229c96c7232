"""Races, crashes and durability: overspending is impossible across threads and processes."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from ctxbudget import BudgetExhausted, Ledger, SessionBudget, ledger_from_url

CAP = 5_000


def shared_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A ledger URL several processes can share: a SQLite file or a fresh Redis prefix."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return f"{request.getfixturevalue('redis_url')}?prefix=shared-{uuid.uuid4().hex[:12]}:"


def spend_until_refused(ledger: str | Ledger, seed: int, results: object) -> None:
    """Reserve 10-60 tokens, commit a random actual use up to the hold, until refused."""
    rng = random.Random(seed)
    budget = SessionBudget(ledger, session_cap=CAP)
    committed = 0
    refusals = 0
    while refusals < 20:
        want = rng.randint(10, 60)
        try:
            reservation = budget.reserve(want, session="race", user="racer")
        except BudgetExhausted:
            refusals += 1
            continue
        used = rng.randint(1, want)
        reservation.commit(used // 2, used - used // 2)
        committed += used
    if isinstance(ledger, str):
        budget.close()
    results.put(committed) if hasattr(results, "put") else results.append(committed)  # type: ignore[attr-defined]


def test_eight_threads_never_overspend(ledger_url: str) -> None:
    """8 threads race one cap: committed total <= cap and equals what the workers recorded."""
    results: list[int] = []
    ledger = ledger_from_url(ledger_url)  # shared, as threads of one process share it
    threads = [
        threading.Thread(target=spend_until_refused, args=(ledger, seed, results))
        for seed in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 8
    status = SessionBudget(ledger, session_cap=CAP).status("race")
    assert status.used == sum(results)
    assert status.used <= CAP
    assert status.reserved == 0
    assert status.used > CAP - 60  # the workers did fill the budget


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_four_processes_never_overspend(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """4 processes race one cap through SQLite or Redis: never over, every commit counted."""
    url = shared_url(kind, tmp_path, request)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=spend_until_refused, args=(url, seed, queue)) for seed in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    status = SessionBudget(url, session_cap=CAP).status("race")
    assert status.used == sum(results)
    assert status.used <= CAP
    assert status.reserved == 0


def reserve_and_die(url: str) -> None:
    """Hold most of the budget, then die without committing or rolling back."""
    budget = SessionBudget(url, session_cap=CAP, lease_s=1.0)
    budget.reserve(CAP - 100, session="crash")
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_killed_process_leaves_no_permanent_hold(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A process SIGKILLed while holding tokens frees them once its lease ends."""
    url = shared_url(kind, tmp_path, request)
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=reserve_and_die, args=(url,))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == -signal.SIGKILL
    budget = SessionBudget(url, session_cap=CAP, lease_s=1.0)
    assert budget.status("crash").reserved == CAP - 100
    with pytest.raises(BudgetExhausted):
        budget.reserve(200, session="crash")
    time.sleep(1.3)
    budget.reserve(CAP, session="crash").rollback()
    assert budget.status("crash").reserved == 0


def commit_forever(url: str, report: str) -> None:
    """Commit 7 tokens at a time, appending a line to ``report`` after each commit returns."""
    budget = SessionBudget(url, session_cap=None)
    with open(report, "a", buffering=1) as out:
        while True:
            budget.reserve(7, session="durable").commit(7, 0)
            out.write("7\n")


@pytest.mark.slow
def test_sqlite_commit_that_returned_survives_a_killed_writer(tmp_path: Path) -> None:
    """Killing the writer mid-stream loses no commit that had returned."""
    url = f"sqlite:///{tmp_path / 'durable.db'}"
    report = tmp_path / "report.txt"
    report.touch()
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=commit_forever, args=(url, str(report)))
    proc.start()
    deadline = time.monotonic() + 60
    while len(report.read_text().splitlines()) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=30)
    reported = 7 * len(report.read_text().splitlines())
    assert reported >= 7 * 50
    used = SessionBudget(url, session_cap=None).status("durable").used
    # every reported commit is there; at most one more returned before its line was written
    assert reported <= used <= reported + 7


RACE_CAP = 12_000
RACE_LEASE = 1.0


def race_worker(url: str, proc: int, report: str, ready: Any, release: str | None = None) -> None:
    """8 threads reserve 10-60 tokens against one shared user cap, "call" for 0-50 ms (one
    call in 20 outlasts the lease), commit, then append the committed tokens to ``report``;
    each stops after 30 refusals. With ``release`` (a file path), the process then waits until
    that file exists before it exits, so a parent that kills it never finds it already gone.

    A file, not a multiprocessing Event: ``Event.set()`` waits for every process asleep in
    ``wait()`` to wake, and a process killed there never does (the parent hung in ``set()``)."""
    budget = SessionBudget(url, session_cap=None, user_cap=RACE_CAP, lease_s=RACE_LEASE)
    lock = threading.Lock()
    out = open(report, "a", buffering=1)  # noqa: SIM115 - closed by the process's exit

    def thread(seed: int) -> None:
        rng = random.Random(seed)
        refusals = 0
        while refusals < 30:
            want = rng.randint(10, 60)
            try:
                reservation = budget.reserve(want, session=f"p{proc}", user="racer")
            except BudgetExhausted:
                refusals += 1
                time.sleep(0.02)
                continue
            with reservation:
                time.sleep(RACE_LEASE * 1.3 if rng.random() < 0.05 else rng.random() * 0.05)
                used = rng.randint(1, want)
                reservation.commit(used // 2, used - used // 2)
            with lock:
                out.write(f"{used}\n")
            ready.set()

    threads = [threading.Thread(target=thread, args=(proc * 100 + i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()
    if release is not None:
        deadline = time.monotonic() + 300
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_eight_processes_of_eight_threads_with_half_killed(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """64 holders race one user cap with calls that outlast their lease; half the processes
    are killed with SIGKILL mid-run. No scope is ever over its cap, nothing is counted as
    overspent, every commit that returned is in the ledger, and the dead processes' holds
    go back to the pool once their lease ends."""
    url = shared_url(kind, tmp_path, request)
    ctx = mp.get_context("spawn")
    reports = [tmp_path / f"p{i}.txt" for i in range(8)]
    events = [ctx.Event() for _ in range(8)]
    release = tmp_path / "release"  # a worker that finished its race waits, alive, for it
    procs = [
        ctx.Process(target=race_worker, args=(url, i, str(reports[i]), events[i], str(release)))
        for i in range(8)
    ]
    for p in procs:
        p.start()
    for e in events:
        assert e.wait(timeout=120), "a worker never committed"
    time.sleep(0.5)
    for p in procs[:4]:
        os.kill(p.pid, signal.SIGKILL)
    release.touch()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [-signal.SIGKILL] * 4 + [0] * 4
    budget = SessionBudget(url, session_cap=None, user_cap=RACE_CAP, lease_s=RACE_LEASE)
    time.sleep(RACE_LEASE + 0.2)
    budget.reap()
    user = budget.status(user="racer")
    reported = [sum(int(x) for x in r.read_text().split()) for r in reports]
    assert user.used <= RACE_CAP
    assert (user.overspent, user.overspends, user.reserved) == (0, 0, 0)
    assert user.used > RACE_CAP - 60 * 64  # the survivors did fill the cap
    for i, total in enumerate(reported):
        session = budget.status(f"p{i}")
        assert session.reserved == 0
        if i >= 4:  # survivors: every commit reported, exactly
            assert session.used == total
        else:  # killed: a commit may have returned just before its line was written
            assert total <= session.used <= total + 8 * 60
    assert user.used == sum(budget.status(f"p{i}").used for i in range(8))
