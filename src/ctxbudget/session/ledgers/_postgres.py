"""The PostgreSQL ledger: durable, safe across threads, processes and hosts (psycopg 3).

Each step is one transaction that first takes a transaction-scoped advisory lock on the
ledger's namespace (``pg_advisory_xact_lock``, one per table prefix), then runs the shared
:class:`~ctxbudget.session.ledgers.RowLedger` step over :class:`Rows` in ``READ COMMITTED``.
Why one lock per namespace rather than ``SELECT ... FOR UPDATE`` on the scope rows or a
``SERIALIZABLE`` transaction with retries:

- every :class:`~ctxbudget.SessionBudget` step touches the ``global`` scope, so row locks
  would queue the same steps behind one row anyway;
- a step's rows are not known before it runs (the expired holds it reclaims, scopes that do
  not exist yet: an insert cannot be locked with ``FOR UPDATE``), and locking them in the
  order the step meets them can deadlock;
- on a hot cap, serializable transactions abort and retry instead of queueing.

The lock is the PostgreSQL form of SQLite's ``BEGIN IMMEDIATE``: one writer per namespace,
readers never blocked, no deadlock, no retry. A reserve costs 7 round trips (``BEGIN`` and
the lock in one, 3 reads, 2 writes, ``COMMIT``); psycopg's pipeline mode was measured slower
for these steps, whose reads each wait for the writes before them. The lock and the time
(``clock_timestamp()``, read once the lock is held) come from the server, so clients on hosts
with skewed clocks agree on lease expiry.

Durability: commits wait for the WAL flush (``synchronous_commit=on``, PostgreSQL's default,
set on every connection of the ledger; ``?synchronous_commit=`` changes it), so a commit that
returned survives a killed client and a server crash. A server running with ``fsync=off``
makes :attr:`PostgresLedger.durability_warning` say so.

Owners: holds record their owner process, but a PostgreSQL server serves many hosts, so no
step reclaims or keeps a hold by its owner's liveness: only the lease decides, as on Redis
(the heartbeat of a live holder renews it). Needs the optional ``psycopg`` package:
``pip install 'ctxbudget[postgres]'``.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

from ..._errors import ConfigurationError, LedgerError
from ._base import ScopeRecord
from ._postgres_conn import (
    OPTIONS,
    SYNCHRONOUS_COMMIT,
    Pool,
    check_pool_size,
    check_prefix,
    driver,
    one_line,
    rollback,
    safe_url,
    secrets_of,
)
from ._postgres_rows import PgRows, Statements, scope_record
from ._rows import Clock, RowLedger, Rows
from ._url import choice, positive_seconds, url_options

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresLedger"]

T = TypeVar("T")
log = logging.getLogger("ctxbudget.ledgers")


class PostgresLedger(RowLedger):
    """Spend kept in PostgreSQL (``postgresql://user:password@host:port/dbname``).

    Safe to share across threads: each step borrows one connection of the ledger's pool (at
    most ``pool_size``, opened on demand and kept open) for its transaction; steps of every
    thread, process and host on the same namespace queue on the namespace's advisory lock,
    one at a time. Reads (:meth:`status`, :meth:`scopes`) take no lock.

    Tables ``<prefix>scopes`` and ``<prefix>holds`` (and the index ``<prefix>holds_active``)
    are created when missing. Every connection sets ``synchronous_commit`` (default ``on``),
    ``lock_timeout`` and ``idle_in_transaction_session_timeout`` (both ``lock_timeout_s``):
    a client stopped in the middle of a step (SIGSTOP, a debugger) has its transaction
    aborted by the server and cannot hold the namespace lock longer than that.

    Args:
        conninfo: a libpq connection URL or string, without this ledger's own options.
        prefix: table-name prefix, 1-40 letters, digits or underscores (``?prefix=``).
        pool_size: connections at most, 1-1000 (``?pool_size=``, default 4).
        lock_timeout_s: seconds a step waits for the namespace lock (or a free connection)
            before failing, positive (``?lock_timeout=``, default 30).
        synchronous_commit: PostgreSQL's ``synchronous_commit`` for the ledger's
            transactions: ``on`` (default), ``off``, ``local``, ``remote_write`` or
            ``remote_apply`` (``?synchronous_commit=``).
        clock: current time in Unix seconds; default ``None``: the server's clock.
        url: the ledger URL, for messages (its password is never shown).

    Raises:
        ConfigurationError: an argument is invalid, the connection string is malformed, or
            psycopg is not installed (the message names ``pip install 'ctxbudget[postgres]'``).
        LedgerError: the server cannot be reached or refuses the connection, or the tables
            cannot be created; the message names the URL without its password.
    """

    schemes = ("postgresql", "postgres")
    sees_owners = False  # one server, many hosts: only the lease tells a holder is gone

    def __init__(
        self,
        conninfo: str,
        *,
        prefix: str = "ctxbudget_",
        pool_size: int = 4,
        lock_timeout_s: float = 30.0,
        synchronous_commit: str = "on",
        clock: Clock | None = None,
        url: str | None = None,
    ) -> None:
        self.url = safe_url(url if url is not None else conninfo)
        self._secrets = secrets_of(conninfo) + secrets_of(url or "")
        self._psycopg = driver()
        for name, value, convert in (
            ("prefix", prefix, check_prefix),
            ("pool_size", str(pool_size), check_pool_size),
            ("lock_timeout_s", str(lock_timeout_s), positive_seconds),
            ("synchronous_commit", synchronous_commit, choice(*SYNCHRONOUS_COMMIT)),
        ):
            try:
                convert(value)
            except ValueError as exc:  # noqa: PERF203 - raised once, at construction
                raise ConfigurationError(f"{self.url}: {name}={value!r} {exc}") from None
        try:
            self._psycopg.conninfo.conninfo_to_dict(conninfo)
        except self._psycopg.Error as exc:
            raise ConfigurationError(
                f"{self.url}: malformed PostgreSQL connection string: "
                f"{one_line(exc, self._secrets)}"
            ) from None
        self.prefix = prefix
        self._conninfo = conninfo
        self._sql = Statements(prefix)
        self._lock_timeout = float(lock_timeout_s)
        self._synchronous_commit = synchronous_commit.lower()
        self._clock = clock
        self._local = threading.local()
        self.durability_warning: str | None = None
        self._pool = Pool(self._connect, pool_size, self.url)
        weakref.finalize(self, self._pool.close)  # dropped without close(): still closed
        self._setup()  # fail now, with the URL, if the server is unusable

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresLedger:
        """``postgresql://user:password@host:port/dbname?prefix=app_&pool_size=8``.

        This ledger's options are ``prefix``, ``pool_size``, ``lock_timeout`` (seconds) and
        ``synchronous_commit``; every other query option goes to libpq (``sslmode``,
        ``connect_timeout``, ``application_name``...; ``connect_timeout`` defaults to 10 s).
        Keyword ``options`` are those of the constructor and win over the URL's.

        Raises:
            ConfigurationError: an option of this ledger is invalid (the message names it),
                or libpq rejects the URL.
            LedgerError: the server cannot be reached or the tables cannot be created.
        """
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise ConfigurationError(f"{safe_url(url)}: malformed PostgreSQL URL: {exc}") from None
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        ours = [(k, v) for k, v in pairs if k in OPTIONS]
        passed = [(k, v) for k, v in pairs if k not in OPTIONS]
        query = url_options(parts._replace(query=urlencode(ours)).geturl(), OPTIONS)
        if not any(k == "connect_timeout" for k, _ in passed):
            passed.append(("connect_timeout", "10"))
        for option, name in (
            ("prefix", "prefix"),
            ("pool_size", "pool_size"),
            ("lock_timeout", "lock_timeout_s"),
            ("synchronous_commit", "synchronous_commit"),
        ):
            if option in query:
                options.setdefault(name, query[option])
        scheme = "postgresql" if parts.scheme == "postgres" else parts.scheme
        conninfo = parts._replace(scheme=scheme, query=urlencode(passed)).geturl()
        return cls(conninfo, url=url, **options)

    # -- connections ---------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        """A new connection with the ledger's session settings.

        Raises:
            psycopg.Error: it could not be opened (wrapped by the caller).
        """
        conn: psycopg.Connection[tuple[Any, ...]] = self._psycopg.connect(
            self._conninfo, autocommit=True
        )
        try:
            ms = max(1, round(self._lock_timeout * 1000))
            conn.execute(
                f"SET synchronous_commit = {self._synchronous_commit}; "
                f"SET lock_timeout = {ms}; SET idle_in_transaction_session_timeout = {ms}"
            )
        except BaseException:
            conn.close()
            raise
        return conn

    def _error(self, what: str, exc: BaseException) -> LedgerError:
        if isinstance(exc, self._psycopg.errors.LockNotAvailable):
            reason = (
                f"another client held the ledger's lock for over {self._lock_timeout:g} s "
                f"(lock_timeout); nothing was changed"
            )
        else:
            reason = one_line(exc, self._secrets)
        error = LedgerError(f"{what} failed: {reason}", url=self.url)
        error.__cause__ = exc
        return error

    def _setup(self) -> None:
        """Create the tables when missing (under the namespace lock: creators never race)
        and read the server's ``fsync`` setting."""
        sql = self._sql
        try:
            with self._pool.connection(self._lock_timeout) as (conn, _):
                with conn.transaction():
                    conn.execute(sql.lock)
                    for statement in sql.schema:
                        conn.execute(statement)
                row = conn.execute("SHOW fsync").fetchone()
        except self._psycopg.Error as exc:
            self._pool.close()
            raise self._error("connecting to PostgreSQL", exc) from exc
        if row is not None and str(row[0]).lower() == "off":
            self.durability_warning = (
                f"the PostgreSQL ledger at {self.url} may not be durable: the server runs "
                f"with fsync=off, so an operating-system crash or power loss can lose or "
                f"corrupt committed spend; turn fsync on"
            )
            log.warning("ctxbudget: %s", self.durability_warning)

    # -- steps ---------------------------------------------------------------------------

    def _run(self, step: Callable[[Rows], T]) -> T:
        """``step`` in one transaction under the namespace lock; returns once committed.

        A connection found broken at the step's first statement (an idle connection the
        server closed, e.g. after a restart) is replaced once: nothing had run yet.
        """
        psycopg = self._psycopg
        sql = self._sql
        fresh = False
        while True:
            started = False
            try:
                with self._pool.connection(self._lock_timeout, fresh) as (conn, reused):
                    try:
                        cursor = conn.execute(sql.begin_and_lock)  # one round trip
                        cursor.nextset()
                        row = cursor.fetchone()
                        started = True
                        self._local.now = float(row[0]) if row is not None else 0.0
                        result = step(PgRows(conn, sql))
                        if conn.execute("COMMIT").statusmessage != "COMMIT":
                            raise LedgerError(
                                "the step's transaction was rolled back; nothing was kept",
                                url=self.url,
                            )
                    except psycopg.OperationalError:
                        rollback(conn)
                        if not started and reused and conn.broken and not fresh:
                            fresh = True
                            continue
                        raise
                    except BaseException:
                        rollback(conn)
                        raise
                    return result
            except psycopg.Error as exc:
                what = "a ledger step" if started else "starting a ledger step"
                raise self._error(what, exc) from exc

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        now: float = self._local.now
        return now

    def _read(self, query: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            with self._pool.connection(self._lock_timeout) as (conn, _):
                return conn.execute(query, args).fetchall()
        except self._psycopg.Error as exc:
            raise self._error("reading the ledger", exc) from exc

    def status(self, scope: str) -> ScopeRecord | None:
        rows = self._read(self._sql.status, ([scope],))
        return scope_record(rows[0]) if rows else None

    def scopes(self, prefix: str = "") -> list[str]:
        return [row[0] for row in self._read(self._sql.list_scopes, (prefix,))]

    def reset(self, scope: str) -> bool:
        def delete(rows: Rows) -> bool:
            assert isinstance(rows, PgRows)
            return rows.conn.execute(rows.sql.reset, (scope,)).fetchone() is not None

        return self._run(delete)

    def close(self) -> None:
        """Close every connection; later steps raise :class:`~ctxbudget.LedgerError`."""
        self._pool.close()
