"""Ledger throughput beside the bare round trip of each store, side by side in one run.

Run by hand from the repository root::

    python -m benchmarks.ledgers                 # about a minute or two
    python -m benchmarks.ledgers --smoke         # tiny sizes, a few seconds
    python -m benchmarks.ledgers --json out.json # also write every row as JSON
    python -m benchmarks.ledgers --no-postgres   # without the PostgreSQL rows

Rows (reserve+commit pairs per second, medians of ``--repeats`` runs):

- through :class:`~ctxbudget.SessionBudget` (``reserve(100, session=..., user=...)`` then
  ``commit(60, 30)``) for memory, SQLite ``synchronous=FULL`` (the ledger's default), SQLite
  ``synchronous=NORMAL``, Redis and PostgreSQL over loopback, each with 1 client, 8 threads
  sharing one budget and 4 processes (each with its own budget on the same store; not for
  memory);
- the store's bare round trip: one durable SQLite transaction (``BEGIN IMMEDIATE``, one
  ``UPDATE``, ``COMMIT`` at the same synchronous setting, one connection per thread), Redis
  ``PING`` and PostgreSQL ``SELECT 1`` (autocommit, one connection per thread), with 1 client
  and 8 threads;
- the async form (``areserve`` + ``acommit``) for memory, SQLite ``synchronous=FULL`` and Redis,
  with 1 task and 8 concurrent tasks on one event loop (in the 1-client and 8-threads columns);
- the memory ledger itself (``Ledger.reserve`` + ``Ledger.commit``), and whether its rate stays
  flat: the first 100,000 pairs against 100,000 pairs after 1,000,000.

The Redis server is started on a free loopback port by :func:`benchmarks.harness.start_redis`
(no persistence: the Redis rows measure round trips, not fsync). PostgreSQL is a throwaway
cluster (Debian's ``initdb`` in a temp dir, as the ``postgres`` user when run as root) on a
free loopback port, with its durable defaults (``fsync=on``, ``synchronous_commit=on``): every
ledger step waits for its WAL flush.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing as mp
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

SCOPES = ("session:bench", "user:bench", "global")


def _threads(clients: int, work: Callable[[int], None]) -> float:
    """Seconds for ``clients`` threads to each run ``work(client)`` once."""
    threads = [threading.Thread(target=work, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def _budget_pairs(budget: Any, client: int, pairs: int, tag: str) -> None:
    session, user = f"bench-{tag}-{client}", f"u-{tag}-{client}"
    for _ in range(pairs):
        budget.reserve(100, session=session, user=user).commit(60, 30)


def budget_rate(url: str, pairs: int, clients: int) -> float:
    """Pairs per second with ``clients`` threads sharing one SessionBudget on ``url``."""
    from ctxbudget import SessionBudget

    budget = SessionBudget(url, session_cap=None)
    per = max(1, pairs // clients)
    tag = uuid.uuid4().hex[:8]
    try:
        _budget_pairs(budget, 0, 1, tag)  # open the connection, create the schema
        seconds = _threads(clients, lambda c: _budget_pairs(budget, c, per, tag))
    finally:
        budget.close()
    return per * clients / seconds


def async_rate(url: str, pairs: int, tasks: int) -> float:
    """Pairs per second of ``areserve`` + ``acommit`` with ``tasks`` concurrent tasks on one
    event loop sharing one SessionBudget on ``url`` (Redis natively through redis.asyncio,
    the other ledgers in worker threads)."""
    import asyncio

    from ctxbudget import SessionBudget

    per = max(1, pairs // tasks)
    tag = uuid.uuid4().hex[:8]

    async def work(budget: Any, client: int, count: int) -> None:
        session, user = f"bench-{tag}-{client}", f"u-{tag}-{client}"
        for _ in range(count):
            held = await budget.areserve(100, session=session, user=user)
            await held.acommit(60, 30)

    async def main() -> float:
        budget = SessionBudget(url, session_cap=None)
        try:
            await work(budget, 0, 1)  # open the connection, create the schema
            start = time.perf_counter()
            await asyncio.gather(*(work(budget, c, per) for c in range(tasks)))
            return time.perf_counter() - start
        finally:
            await budget.aclose()

    return per * tasks / asyncio.run(main())


def _process(url: str, client: int, pairs: int, barrier: Any, done: Any) -> None:
    from ctxbudget import SessionBudget

    with _quiet():
        budget = SessionBudget(url, session_cap=None)
        tag = uuid.uuid4().hex[:8]
        _budget_pairs(budget, client, 1, tag)
        barrier.wait(timeout=120)
        _budget_pairs(budget, client, pairs, tag)
        budget.close()
    done.put(client)


def process_rate(url: str, pairs: int, processes: int) -> float:
    """Pairs per second with ``processes`` processes, each with its own SessionBudget."""
    ctx = mp.get_context("spawn")
    barrier, done = ctx.Barrier(processes + 1), ctx.Queue()
    per = max(1, pairs // processes)
    procs = [
        ctx.Process(target=_process, args=(url, c, per, barrier, done)) for c in range(processes)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)  # a worker that failed to start breaks the barrier
    start = time.perf_counter()
    for _ in procs:
        done.get(timeout=600)
    seconds = time.perf_counter() - start
    for p in procs:
        p.join()
    return per * processes / seconds


def ledger_rate(pairs: int) -> float:
    """Pairs per second of ``MemoryLedger.reserve`` + ``commit`` called directly."""
    from ctxbudget.session.ledgers import Limit, MemoryLedger

    ledger = MemoryLedger()
    limits = [Limit(s, None, 86_400.0) for s in SCOPES]
    start = time.perf_counter()
    for i in range(pairs):
        rid = f"r{i}"
        ledger.reserve(rid, 100, limits, 300.0)
        ledger.commit(rid, 60, 30, 0.0, 0.8)
    return pairs / (time.perf_counter() - start)


def flat_check(first: int, after: int) -> dict[str, float]:
    """The memory ledger's rate over its first ``first`` pairs and over ``first`` pairs once
    ``after`` pairs were made (one ledger throughout)."""
    from ctxbudget.session.ledgers import Limit, MemoryLedger

    ledger = MemoryLedger()
    limits = [Limit(s, None, 86_400.0) for s in SCOPES]

    def run(start_index: int, n: int) -> float:
        start = time.perf_counter()
        for i in range(start_index, start_index + n):
            rid = f"r{i}"
            ledger.reserve(rid, 100, limits, 300.0)
            ledger.commit(rid, 60, 30, 0.0, 0.8)
        return n / (time.perf_counter() - start)

    early = run(0, first)
    run(first, after - first)
    late = run(after, first)
    return {"first": early, "after": late, "ratio": late / early}


def sqlite_round_trip(path: str, synchronous: str, transactions: int, clients: int) -> float:
    """Durable transactions per second: ``BEGIN IMMEDIATE``, one ``UPDATE``, ``COMMIT``."""
    setup = sqlite3.connect(path, isolation_level=None)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v INTEGER)")
    setup.execute("INSERT OR IGNORE INTO t VALUES (1, 0)")
    setup.close()
    per = max(1, transactions // clients)

    def work(_: int) -> None:
        db = sqlite3.connect(path, isolation_level=None, timeout=60)
        db.execute(f"PRAGMA synchronous={synchronous}")
        for _ in range(per):
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE t SET v = v + 1 WHERE k = 1")
            db.execute("COMMIT")
        db.close()

    return per * clients / _threads(clients, work)


def ping_rate(redis_url: str, pings: int, clients: int) -> float:
    """Redis PING round trips per second, one connection per thread."""
    import redis

    per = max(1, pings // clients)

    def work(_: int) -> None:
        client = redis.Redis.from_url(redis_url)
        client.ping()
        for _ in range(per):
            client.ping()
        client.close()

    return per * clients / _threads(clients, work)


def select_rate(postgres_url: str, queries: int, clients: int) -> float:
    """PostgreSQL ``SELECT 1`` round trips per second, one autocommit connection per thread."""
    import psycopg

    per = max(1, queries // clients)

    def work(_: int) -> None:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("SELECT 1").fetchone()
            for _ in range(per):
                conn.execute("SELECT 1").fetchone()

    return per * clients / _threads(clients, work)


@contextlib.contextmanager
def start_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port for the ``with`` block; yields
    the URL of its database ``bench``.

    Raises:
        SystemExit: no PostgreSQL server binaries (``/usr/lib/postgresql/*/bin/initdb``).
    """
    import glob
    import os
    import shlex
    import shutil
    import socket
    import subprocess

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = found[-1] if found else shutil.which("initdb")
    if initdb is None:
        raise SystemExit("the ledger benchmark needs PostgreSQL: apt-get install -y postgresql")
    bindir = Path(initdb).parent
    as_root = os.geteuid() == 0

    def run(args: list[str]) -> None:
        if as_root:  # initdb refuses root
            args = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(args)]
        subprocess.run(args, check=True, capture_output=True, timeout=120)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = Path(tempfile.mkdtemp(prefix="ctxbudget-bench-pg-"))
    if as_root:
        shutil.chown(base, "postgres")
    data = base / "data"
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    pg_ctl = str(bindir / "pg_ctl")
    try:
        run([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"])
        run([pg_ctl, "-D", str(data), "-l", str(base / "log"), "-o", options, "-w", "start"])
        import psycopg

        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        yield f"postgresql://postgres@127.0.0.1:{port}/bench"
    finally:
        if data.is_dir():
            with contextlib.suppress(subprocess.SubprocessError):
                run([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the Redis "may not be durable" warning while the benchmark runs (this server
    has no persistence on purpose); the logger's level is restored afterwards, so a caller
    (the smoke test) still sees every later warning."""
    logger = logging.getLogger("ctxbudget")
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


def _median(fn: Callable[[], float], repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def run(
    *,
    smoke: bool,
    repeats: int,
    redis: bool = True,
    postgres: bool = False,
    flat_after: int = 1_000_000,
) -> list[dict[str, Any]]:
    """Measure every row; returns ``[{"row", "one", "eight", "four_processes"}...]`` in
    pairs (or round trips) per second, ``None`` where a column does not apply. The memory
    flatness row holds the first rate in ``one`` and the late rate in ``eight``. The
    PostgreSQL rows come last, only with ``postgres=True`` (the command line's default).

    Raises:
        SystemExit: ``redis`` is true and redis-server is not installed, or ``postgres`` is
            true and PostgreSQL's server binaries are not.
    """
    with _quiet():
        return _measure(
            smoke=smoke, repeats=repeats, redis=redis, postgres=postgres, flat_after=flat_after
        )


def _measure(
    *, smoke: bool, repeats: int, redis: bool, postgres: bool, flat_after: int
) -> list[dict[str, Any]]:
    scale = 0.005 if smoke else 1.0

    def n(count: int) -> int:
        return max(8, int(count * scale))

    rows: list[dict[str, Any]] = []

    def add(name: str, one: float | None, eight: float | None, four: float | None) -> None:
        rows.append({"row": name, "one": one, "eight": eight, "four_processes": four})

    with tempfile.TemporaryDirectory() as tmp:
        add(
            "memory: Ledger.reserve + commit",
            _median(lambda: ledger_rate(n(100_000)), repeats),
            None,
            None,
        )
        first, after = (1_000, 5_000) if smoke else (min(100_000, flat_after // 10), flat_after)
        flat = flat_check(first, after)
        add(
            f"memory: flat? first {first:,} pairs vs {first:,} after {after:,}"
            f" (x{flat['ratio']:.2f})",
            flat["first"],
            flat["after"],
            None,
        )
        add(
            "memory: SessionBudget",
            _median(lambda: budget_rate("memory://", n(50_000), 1), repeats),
            _median(lambda: budget_rate("memory://", n(50_000), 8), repeats),
            None,
        )
        add(
            "memory: SessionBudget, async (1 task / 8 tasks)",
            _median(lambda: async_rate("memory://", n(20_000), 1), repeats),
            _median(lambda: async_rate("memory://", n(20_000), 8), repeats),
            None,
        )
        full = f"sqlite:///{tmp}/async-full.db"
        add(
            "sqlite synchronous=FULL: SessionBudget, async (1 task / 8 tasks)",
            _median(lambda: async_rate(full, n(3_000), 1), repeats),
            _median(lambda: async_rate(full, n(3_000), 8), repeats),
            None,
        )
        for sync, pairs in (("full", 3_000), ("normal", 6_000)):
            url = f"sqlite:///{tmp}/{sync}.db" + ("?synchronous=normal" if sync != "full" else "")
            add(
                f"sqlite synchronous={sync.upper()}: SessionBudget",
                _median(lambda url=url, p=pairs: budget_rate(url, n(p), 1), repeats),
                _median(lambda url=url, p=pairs: budget_rate(url, n(p), 8), repeats),
                None
                if smoke and sync != "full"  # spawning costs seconds: one row in a smoke run
                else _median(lambda url=url, p=pairs: process_rate(url, n(p), 4), repeats),
            )
            bare = f"{tmp}/bare-{sync}.db"
            add(
                f"sqlite synchronous={sync.upper()}: bare durable transaction",
                _median(lambda b=bare, s=sync, p=pairs: sqlite_round_trip(b, s, n(p), 1), repeats),
                _median(lambda b=bare, s=sync, p=pairs: sqlite_round_trip(b, s, n(p), 8), repeats),
                None,
            )
        if redis:
            _redis_rows(add, n, repeats, smoke)
        if postgres:
            _postgres_rows(add, n, repeats, smoke)
    return rows


def _redis_rows(
    add: Callable[[str, float | None, float | None, float | None], None],
    n: Callable[[int], int],
    repeats: int,
    smoke: bool,
) -> None:
    from benchmarks.harness import start_redis

    proc, redis_url = start_redis()
    try:
        url = f"{redis_url}?prefix=bench:"
        add(
            "redis over loopback: SessionBudget",
            _median(lambda: budget_rate(url, n(8_000), 1), repeats),
            _median(lambda: budget_rate(url, n(8_000), 8), repeats),
            None if smoke else _median(lambda: process_rate(url, n(8_000), 4), repeats),
        )
        add(
            "redis over loopback: SessionBudget, async via redis.asyncio (1 task / 8 tasks)",
            _median(lambda: async_rate(url, n(8_000), 1), repeats),
            _median(lambda: async_rate(url, n(8_000), 8), repeats),
            None,
        )
        add(
            "redis over loopback: bare PING",
            _median(lambda: ping_rate(redis_url, n(16_000), 1), repeats),
            _median(lambda: ping_rate(redis_url, n(16_000), 8), repeats),
            None,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _postgres_rows(
    add: Callable[[str, float | None, float | None, float | None], None],
    n: Callable[[int], int],
    repeats: int,
    smoke: bool,
) -> None:
    with start_postgres() as postgres_url:
        url = f"{postgres_url}?prefix=bench_"
        add(
            "postgres over loopback: SessionBudget",
            _median(lambda: budget_rate(url, n(1_500), 1), repeats),
            _median(lambda: budget_rate(url, n(1_500), 8), repeats),
            None if smoke else _median(lambda: process_rate(url, n(1_500), 4), repeats),
        )
        add(
            "postgres over loopback: bare SELECT 1",
            _median(lambda: select_rate(postgres_url, n(16_000), 1), repeats),
            _median(lambda: select_rate(postgres_url, n(16_000), 8), repeats),
            None,
        )


def markdown(rows: Sequence[dict[str, Any]], repeats: int) -> str:
    """The rows as a Markdown table (pairs or round trips per second)."""

    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:,.0f}"

    lines = [
        f"Reserve+commit pairs/s (bare rows: round trips/s), median of {repeats} runs.",
        "",
        "| row | 1 client | 8 threads | 4 processes |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['row']} | {cell(r['one'])} | {cell(r['eight'])} | {cell(r['four_processes'])} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Run the benchmark, print the Markdown table, optionally write JSON; returns the rows."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ledgers", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--repeats", type=int, default=None, help="runs per cell (median)")
    parser.add_argument("--json", type=Path, default=None, help="write the rows to this file")
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis rows")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL rows")
    parser.add_argument(
        "--flat-after", type=int, default=1_000_000, help="pairs before the late memory rate"
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.smoke else 3)
    rows = run(
        smoke=args.smoke,
        repeats=repeats,
        redis=not args.no_redis,
        postgres=not args.no_postgres,
        flat_after=args.flat_after,
    )
    print(markdown(rows, repeats))
    if args.json is not None:
        args.json.write_text(json.dumps({"repeats": repeats, "rows": rows}, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
