"""The PostgreSQL ledger against a real server: errors that name the URL without its password,
races of threads and processes on one cap, durability of a returned commit, the namespace
lock, broken connections, and the driver kept optional."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from tests.test_budget_concurrency import CAP, commit_forever, spend_until_refused
from tests.test_budget_stateful import _SETTINGS, SESSION_CAP, USER_CAP, BudgetMachine

from ctxbudget import ConfigurationError, LedgerError, SessionBudget, ledger_from_url
from ctxbudget.session.ledgers._postgres import PostgresLedger

pytestmark = pytest.mark.postgres


@pytest.fixture
def url(postgres_url: str) -> str:
    """A fresh namespace (table prefix) on the session's server."""
    return f"{postgres_url}?prefix=p_{uuid.uuid4().hex[:12]}_"


@pytest.fixture
def admin(postgres_url: str) -> Iterator[object]:
    """A plain psycopg connection to the test database (autocommit)."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


def test_import_ctxbudget_does_not_import_psycopg() -> None:
    """psycopg is imported on first use of a postgresql:// ledger, never by import ctxbudget."""
    code = (
        "import sys, ctxbudget\n"
        "from ctxbudget.session.ledgers import ledger_schemes\n"
        "assert 'psycopg' not in sys.modules, 'psycopg imported'\n"
        "assert {'postgres', 'postgresql'} <= set(ledger_schemes())\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_missing_driver_names_the_extra_to_install() -> None:
    """Without psycopg, opening the ledger is a ConfigurationError naming ctxbudget[postgres]."""
    code = (
        "import sys\n"
        "sys.modules['psycopg'] = None\n"
        "from ctxbudget import ConfigurationError, ledger_from_url\n"
        "try:\n"
        "    ledger_from_url('postgresql://u:secret@127.0.0.1:1/db')\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert "pip install 'ctxbudget[postgres]'" in out
    assert "secret" not in out


@pytest.mark.parametrize(
    ("bad", "exc_type", "expected"),
    [
        ("postgresql://u:s3cret@127.0.0.1:1/db", LedgerError, "Connection refused"),
        ("postgresql://u:s3cret@127.0.0.1:1/db?pool_size=0", ConfigurationError, "pool_size"),
        ("postgresql://u:s3cret@127.0.0.1:1/db?prefix=1x", ConfigurationError, "prefix='1x'"),
        ("postgresql://u:s3cret@127.0.0.1:1/db?lock_timeout=-1", ConfigurationError, "lock_t"),
        (
            "postgresql://u:s3cret@127.0.0.1:1/db?synchronous_commit=maybe",
            ConfigurationError,
            "synchronous_commit='maybe' must be one of on, off",
        ),
        ("postgresql://u:s3cret@127.0.0.1:1/db?colour=red", ConfigurationError, '"colour"'),
        ("postgresql://u:s3cret@[::1/db", ConfigurationError, "malformed PostgreSQL URL"),
        ("postgresql://u@127.0.0.1:1/db?password=s3cret", LedgerError, "Connection refused"),
        ("postgresql://u:s3cret@127.0.0.1:notaport/db", LedgerError, "notaport"),
    ],
)
def test_bad_urls_and_unreachable_servers_are_one_line_errors_without_the_password(
    bad: str, exc_type: type[Exception], expected: str
) -> None:
    """Each is one line, names the URL (password shown as ***) and what is wrong."""
    with pytest.raises(exc_type) as info:
        PostgresLedger.from_url(bad)  # ledger_from_url's own urlsplit refuses "[::1" first
    message = str(info.value)
    assert "\n" not in message
    assert "s3cret" not in message
    assert "127.0.0.1" in message or "[::1" in message
    assert "***" in message
    assert expected in message


def test_a_missing_database_is_a_ledger_error_naming_it(postgres_url: str) -> None:
    """The server's refusal is passed on, on one line, with the URL."""
    bad = postgres_url.rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(LedgerError, match='database "no_such_db" does not exist') as info:
        ledger_from_url(bad)
    assert info.value.url == bad
    assert "\n" not in str(info.value)


def test_postgres_scheme_alias_and_tables_under_the_prefix(url: str, admin: object) -> None:
    """postgres:// works as postgresql://; the tables carry the prefix and are created once."""
    alias = "postgres://" + url.split("://", 1)[1]
    with ledger_from_url(alias) as first, ledger_from_url(url) as second:
        assert isinstance(first, PostgresLedger)
        SessionBudget(first, session_cap=100).reserve(10, session="a").commit(5, 5)
        assert SessionBudget(second, session_cap=100).status("a").used == 10
        prefix = first.prefix
    tables = admin.execute(  # type: ignore[attr-defined]
        "SELECT tablename FROM pg_tables WHERE tablename LIKE %s ORDER BY 1", (prefix + "%",)
    ).fetchall()
    assert [t[0] for t in tables] == [f"{prefix}holds", f"{prefix}scopes"]


def test_scopes_are_sorted_as_python_sorts_them(url: str) -> None:
    """scopes() orders by code point (COLLATE "C"), whatever the database's collation."""
    budget = SessionBudget(url, session_cap=None)
    names = ["Zed", "alpha", "Émile", "beta", "_x", "ß"]
    for name in names:
        budget.record(1, 0, session=name)
    got = budget.ledger.scopes("session:")
    assert got == sorted(got)
    assert len(got) == len(names)
    budget.close()


def test_eight_threads_on_two_connections_never_overspend(url: str) -> None:
    """8 threads race one cap through a pool of 2 connections: never over, all counted."""
    ledger = ledger_from_url(f"{url}&pool_size=2")
    results: list[int] = []
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
    assert CAP - 60 < status.used <= CAP
    assert (status.reserved, status.overspent) == (0, 0)
    ledger.close()


@pytest.mark.slow
def test_four_processes_never_overspend(url: str) -> None:
    """4 processes race one cap on one server: never over, every commit counted."""
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
    assert CAP - 60 < status.used <= CAP
    assert (status.reserved, status.overspent) == (0, 0)


@pytest.mark.slow
def test_a_commit_that_returned_survives_a_killed_client(url: str, tmp_path: Path) -> None:
    """SIGKILL the client mid-stream: every commit that had returned is in the ledger."""
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
    budget = SessionBudget(url, session_cap=None)
    status = budget.status("durable")
    # every reported commit is there; at most one more returned before its line was written
    assert reported <= status.used <= reported + 7
    # the killed client's open reservation (at most one) waits for its lease, nothing more
    assert status.reserved in (0, 7)
    budget.close()


def test_every_connection_commits_synchronously(url: str) -> None:
    """The ledger's connections run with synchronous_commit=on unless the URL says otherwise."""
    for query, expected in (("", "on"), ("&synchronous_commit=remote_apply", "remote_apply")):
        ledger = ledger_from_url(url + query)
        assert isinstance(ledger, PostgresLedger)
        assert ledger._read("SHOW synchronous_commit", ()) == [(expected,)]
        assert ledger.durability_warning is None
        ledger.close()


def test_a_server_with_fsync_off_warns(
    url: str, admin: object, caplog: pytest.LogCaptureFixture
) -> None:
    """fsync=off on the server: durability_warning says so and a warning is logged."""
    run = admin.execute  # type: ignore[attr-defined]
    run("ALTER SYSTEM SET fsync = off")
    run("SELECT pg_reload_conf()")
    try:
        time.sleep(0.3)  # the postmaster signals the reload to new backends
        with caplog.at_level(logging.WARNING, logger="ctxbudget"):
            ledger = ledger_from_url(url)
        assert ledger.durability_warning is not None
        assert "fsync=off" in ledger.durability_warning
        assert "fsync=off" in caplog.text
        ledger.close()
    finally:
        run("ALTER SYSTEM RESET fsync")
        run("SELECT pg_reload_conf()")
        time.sleep(0.3)


def test_a_step_waiting_past_lock_timeout_fails_and_changes_nothing(
    url: str, admin: object
) -> None:
    """Another client holding the namespace lock: the step fails after lock_timeout, naming
    it, and nothing of it is kept."""
    ledger = ledger_from_url(f"{url}&lock_timeout=0.5")
    assert isinstance(ledger, PostgresLedger)
    budget = SessionBudget(ledger, session_cap=1000)
    budget.record(10, 0, session="s")
    run = admin.execute  # type: ignore[attr-defined]
    run("BEGIN")
    run("SELECT pg_advisory_xact_lock(%s)", (ledger._sql.lock_key,))
    try:
        start = time.monotonic()
        with pytest.raises(LedgerError, match="lock_timeout") as info:
            budget.reserve(100, session="s")
        assert 0.4 < time.monotonic() - start < 5
        assert "\n" not in str(info.value)
    finally:
        run("ROLLBACK")
    status = budget.status("s")
    assert (status.used, status.reserved) == (10, 0)
    budget.reserve(100, session="s").rollback()  # the lock is free again
    budget.close()


def test_a_connection_the_server_closed_is_replaced(url: str, admin: object) -> None:
    """An idle pooled connection killed by the server (a restart, an admin) costs no step."""
    ledger = ledger_from_url(f"{url}&pool_size=1")
    budget = SessionBudget(ledger, session_cap=1000)
    budget.record(10, 0, session="s")
    killed = admin.execute(  # type: ignore[attr-defined]
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND application_name = '' AND state = 'idle'"
    ).fetchall()
    assert killed
    budget.reserve(100, session="s").commit(50, 0)
    assert budget.status("s").used == 60
    budget.close()


def test_a_closed_ledger_raises(url: str) -> None:
    """After close(), a step is a LedgerError naming the URL."""
    ledger = ledger_from_url(url)
    ledger.close()
    with pytest.raises(LedgerError, match="closed"):
        ledger.status("session:s")


class PostgresMachine(BudgetMachine):
    """The stateful budget model of tests/test_budget_stateful.py, on PostgreSQL with the
    model's fake clock (the ledger takes ``clock=``, as the SQLite ledger does).

    On fake time no heartbeat ever renews, so the model counts on the ledger seeing that a
    holder is alive, as the one-host ledgers do; this test's ledger is told it may (every
    holder runs here). The lease-only behaviour of the real ledger is the one the ledger
    table tests check in real time (a late commit, a lease run out, a live holder kept by
    its heartbeat)."""

    conninfo = ""

    def __init__(self) -> None:
        super().__init__()  # kind "memory": fake time; its memory budget is swapped out
        self.budget.close()
        prefix = f"st_{uuid.uuid4().hex[:12]}_"
        ledger = PostgresLedger(self.conninfo, prefix=prefix, clock=self.clock)
        ledger.sees_owners = True
        self.budget = SessionBudget(
            ledger, session_cap=SESSION_CAP, user_cap=USER_CAP, lease_s=self.lease
        )
        self.budget.clock = self.clock
        self.budget.on("overspent", self._on_overspent)


@pytest.mark.slow
def test_postgres_ledger_stateful(postgres_url: str) -> None:
    """Random reserve/commit/rollback/renew/expiry/late-commit runs keep every invariant."""
    PostgresMachine.conninfo = postgres_url
    PostgresMachine.TestCase.settings = settings(_SETTINGS, max_examples=25, stateful_step_count=20)
    PostgresMachine.TestCase().runTest()
