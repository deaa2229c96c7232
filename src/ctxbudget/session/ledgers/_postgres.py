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

import contextlib
import hashlib
import logging
import re
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from ..._errors import ConfigurationError, LedgerError
from ._base import Hold, ScopeRecord
from ._rows import Clock, RowLedger, Rows
from ._url import choice, positive_seconds, url_options

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresLedger"]

T = TypeVar("T")
log = logging.getLogger("ctxbudget.ledgers")

_INSTALL = "pip install 'ctxbudget[postgres]'"
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
_SYNCHRONOUS_COMMIT = ("on", "off", "local", "remote_write", "remote_apply")
_SCOPE_COLUMNS = (
    "scope",
    "cap",
    "used",
    "reserved",
    "calls",
    "input_tokens",
    "output_tokens",
    "cost",
    "created",
    "updated",
    "warned",
    "exhausted",
    "expires",
    "overspent",
    "overspends",
    "cached_input_tokens",
    "cache_write_tokens",
    "calls_unpriced",
)
_HOLD_COLUMNS = ("id", "tokens", "scopes", "state", "created", "expires", "retention", "owner")


def _driver() -> Any:
    """The ``psycopg`` module, imported on first use."""
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigurationError(
            f"the PostgreSQL ledger needs the psycopg package (3.1 or later): {_INSTALL}"
        ) from exc
    return psycopg


_NETLOC_PASSWORD = re.compile(r"(://[^/@?#]*?:)[^/@?#]+(@)")
_QUERY_PASSWORD = re.compile(r"((?:^|[?&\s])password\s*=\s*)('[^']*'|[^&#\s]+)")


def _safe(url: str) -> str:
    """``url`` with its password (in the netloc, a ``password=`` URL option or a key=value
    connection string) shown as ``***``; textual, so a malformed URL is shown safely too."""
    return _QUERY_PASSWORD.sub(r"\1***", _NETLOC_PASSWORD.sub(r"\1***\2", url))


def _secrets(url: str) -> list[str]:
    """The passwords written in ``url`` (netloc and ``password=`` options), found without
    parsing it whole: libpq quotes a malformed URL in its error, password and all."""
    found = [m.group(0)[m.group(0).index(":", 3) + 1 : -1] for m in _NETLOC_PASSWORD.finditer(url)]
    found += [m.group(2).strip("'") for m in _QUERY_PASSWORD.finditer(url)]
    return [s for secret in found if secret for s in {secret, unquote(secret)}]


def _one_line(exc: BaseException, secrets: Sequence[str] = ()) -> str:
    """A driver error's message on one line (libpq adds hints on indented lines), with every
    password in ``secrets`` replaced by ``***``."""
    text = str(exc)
    for secret in secrets:
        text = text.replace(secret, "***")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


def _prefix(value: str) -> str:
    if not _PREFIX.fullmatch(value):
        raise ValueError("must be 1-40 letters, digits or underscores, not starting with a digit")
    return value


def _pool_size(value: str) -> int:
    size = int(value) if value.isdigit() else 0
    if not 1 <= size <= 1000:
        raise ValueError("must be a whole number from 1 to 1000")
    return size


_OPTIONS: dict[str, Callable[[str], Any]] = {
    "prefix": _prefix,
    "pool_size": _pool_size,
    "lock_timeout": positive_seconds,
    "synchronous_commit": choice(*_SYNCHRONOUS_COMMIT),
}


def _record(row: Sequence[Any]) -> ScopeRecord:
    record = ScopeRecord(row[0])
    (
        _,
        record.cap,
        record.used,
        record.reserved,
        record.calls,
        record.input_tokens,
        record.output_tokens,
        record.cost,
        record.created,
        record.updated,
        record.warned,
        record.exhausted,
        record.expires,
        record.overspent,
        record.overspends,
        record.cached_input_tokens,
        record.cache_write_tokens,
        record.calls_unpriced,
    ) = row
    return record


def _hold(row: Sequence[Any]) -> Hold:
    return Hold(row[0], row[1], tuple(row[2]), row[3], row[4], row[5], row[6], row[7])


class _Sql:
    """Every statement of one namespace (table prefix); only the validated prefix and
    constant column lists are joined into SQL, values are always parameters."""

    def __init__(self, prefix: str) -> None:
        scopes, holds = f'"{prefix}scopes"', f'"{prefix}holds"'
        self.scopes_table, self.holds_table = scopes, holds
        self.schema = (
            f"CREATE TABLE IF NOT EXISTS {scopes} ("
            'scope text COLLATE "C" PRIMARY KEY, cap bigint, '
            "used bigint NOT NULL, reserved bigint NOT NULL, calls bigint NOT NULL, "
            "input_tokens bigint NOT NULL, output_tokens bigint NOT NULL, "
            "cost double precision NOT NULL, created double precision NOT NULL, "
            "updated double precision NOT NULL, warned boolean NOT NULL, "
            "exhausted boolean NOT NULL, expires double precision NOT NULL, "
            "overspent bigint NOT NULL, overspends bigint NOT NULL, "
            "cached_input_tokens bigint NOT NULL, cache_write_tokens bigint NOT NULL, "
            "calls_unpriced bigint NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {holds} ("
            'id text COLLATE "C" PRIMARY KEY, tokens bigint NOT NULL, '
            "scopes text[] NOT NULL, state text NOT NULL, created double precision NOT NULL, "
            "expires double precision NOT NULL, retention double precision NOT NULL, "
            "owner text)",
            f'CREATE INDEX IF NOT EXISTS "{prefix}holds_active" ON {holds} (expires) '
            "WHERE state = 'active'",
        )
        columns = ", ".join(_SCOPE_COLUMNS)
        self.get_scopes = f"SELECT {columns} FROM {scopes} WHERE scope = ANY(%s)"  # noqa: S608
        self.put_scopes = f"INSERT INTO {scopes} ({columns}) VALUES "  # noqa: S608
        self.upsert_scopes = " ON CONFLICT (scope) DO UPDATE SET " + ", ".join(
            f"{c} = EXCLUDED.{c}" for c in _SCOPE_COLUMNS[1:]
        )
        self.scope_row = "(" + ", ".join(["%s"] * len(_SCOPE_COLUMNS)) + ")"
        hold_columns = ", ".join(_HOLD_COLUMNS)
        self.get_hold = f"SELECT {hold_columns} FROM {holds} WHERE id = %s"  # noqa: S608
        self.put_hold = (
            f"INSERT INTO {holds} ({hold_columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "  # noqa: S608
            "ON CONFLICT (id) DO UPDATE SET "
            + ", ".join(f"{c} = EXCLUDED.{c}" for c in _HOLD_COLUMNS[1:])
        )
        self.expired_holds = (
            f"SELECT {hold_columns} FROM {holds} "  # noqa: S608
            "WHERE state = 'active' AND expires <= %s"
        )
        self.delete_scopes = f"DELETE FROM {scopes} WHERE expires > 0 AND expires < %s"  # noqa: S608
        self.delete_holds = f"DELETE FROM {holds} WHERE state <> 'active' AND expires < %s"  # noqa: S608
        self.reset = f"DELETE FROM {scopes} WHERE scope = %s RETURNING 1"  # noqa: S608
        self.status = self.get_scopes
        self.list_scopes = f"SELECT scope FROM {scopes} WHERE starts_with(scope, %s) ORDER BY scope"  # noqa: S608
        # The lock first, then the time: a step that waited for the lock runs at "now".
        digest = hashlib.sha256(f"ctxbudget ledger {prefix}".encode()).digest()
        self.lock_key = int.from_bytes(digest[:8], "big", signed=True)
        # The lock first, then the time: a step that waited for the lock runs at "now". The
        # key is our own integer, written in so that BEGIN goes in the same round trip.
        self.lock = (
            "SELECT extract(epoch FROM clock_timestamp())::float8 "  # noqa: S608
            f"FROM (SELECT pg_advisory_xact_lock({self.lock_key}) OFFSET 0) AS locked"
        )
        self.begin_and_lock = "BEGIN; " + self.lock


class _PgRows(Rows):
    """Rows of one connection inside its step's transaction: every scope of a step is read
    in one ``SELECT`` and written in one upsert."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]], sql: _Sql) -> None:
        self.conn = conn
        self.sql = sql

    def get_scopes(self, names: Sequence[str]) -> list[ScopeRecord | None]:
        if not names:
            return []
        rows = self.conn.execute(self.sql.get_scopes, (list(names),)).fetchall()
        found = {row[0]: row for row in rows}
        return [_record(found[n]) if n in found else None for n in names]

    def put_scopes(self, records: Sequence[ScopeRecord]) -> None:
        if not records:
            return
        args: list[Any] = []
        for r in records:
            args += (
                r.scope,
                r.cap,
                r.used,
                r.reserved,
                r.calls,
                r.input_tokens,
                r.output_tokens,
                float(r.cost),
                float(r.created),
                float(r.updated),
                r.warned,
                r.exhausted,
                float(r.expires),
                r.overspent,
                r.overspends,
                r.cached_input_tokens,
                r.cache_write_tokens,
                r.calls_unpriced,
            )
        sql = self.sql
        query = sql.put_scopes + ", ".join([sql.scope_row] * len(records)) + sql.upsert_scopes
        self.conn.execute(query, args)

    def get_hold(self, hold_id: str) -> Hold | None:
        row = self.conn.execute(self.sql.get_hold, (hold_id,)).fetchone()
        return _hold(row) if row is not None else None

    def put_hold(self, h: Hold) -> None:
        self.conn.execute(
            self.sql.put_hold,
            (
                h.id,
                h.tokens,
                list(h.scopes),
                h.state,
                float(h.created),
                float(h.expires),
                float(h.retention_s),
                h.owner,
            ),
        )

    def expired_holds(self, now: float) -> Sequence[Hold]:
        rows = self.conn.execute(self.sql.expired_holds, (now,)).fetchall()
        return [_hold(r) for r in rows]

    def delete_before(self, now: float) -> None:
        self.conn.execute(self.sql.delete_scopes, (now,))
        self.conn.execute(self.sql.delete_holds, (now,))


def _rollback(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """End a failed step's transaction (a broken connection took it with it)."""
    with contextlib.suppress(Exception):
        if not conn.closed:
            conn.execute("ROLLBACK")


class _Pool:
    """At most ``size`` connections, each used by one thread at a time; an idle one is
    reused, a broken one dropped (the next borrower opens a new one)."""

    def __init__(
        self, connect: Callable[[], psycopg.Connection[tuple[Any, ...]]], size: int, url: str
    ) -> None:
        self._connect = connect
        self._url = url
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[psycopg.Connection[tuple[Any, ...]]] = []
        self._guard = threading.Lock()
        self.closed = False

    @contextlib.contextmanager
    def connection(
        self, wait_s: float, fresh: bool = False
    ) -> Iterator[tuple[psycopg.Connection[tuple[Any, ...]], bool]]:
        """``(connection, reused)``: an idle connection (``reused``) or a new one.

        Raises:
            LedgerError: the ledger is closed, or no connection was free for ``wait_s``.
            psycopg.Error: a new connection could not be opened.
        """
        if self.closed:
            raise LedgerError("the ledger is closed", url=self._url)
        if not self._slots.acquire(timeout=wait_s):
            raise LedgerError(
                f"all {self.size} connections of the ledger stayed busy for {wait_s:g} s; "
                f"raise ?pool_size= or lock_timeout, or look for a stuck transaction",
                url=self._url,
            )
        try:
            conn = None
            if not fresh:
                with self._guard:
                    while self._idle and conn is None:
                        conn = self._idle.pop()
                        if conn.closed:
                            conn = None
            reused = conn is not None
            if conn is None:
                conn = self._connect()
            try:
                yield conn, reused
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def _give_back(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        psycopg = _driver()
        idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with self._guard:
            if not self.closed and not conn.closed and idle:
                self._idle.append(conn)
                return
        with contextlib.suppress(Exception):  # already broken: nothing more to release
            conn.close()

    def close(self) -> None:
        with self._guard:
            self.closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()


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
        self.url = _safe(url if url is not None else conninfo)
        self._secrets = _secrets(conninfo) + _secrets(url or "")
        self._psycopg = _driver()
        for name, value, convert in (
            ("prefix", prefix, _prefix),
            ("pool_size", str(pool_size), _pool_size),
            ("lock_timeout_s", str(lock_timeout_s), positive_seconds),
            ("synchronous_commit", synchronous_commit, choice(*_SYNCHRONOUS_COMMIT)),
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
                f"{_one_line(exc, self._secrets)}"
            ) from None
        self.prefix = prefix
        self._conninfo = conninfo
        self._sql = _Sql(prefix)
        self._lock_timeout = float(lock_timeout_s)
        self._synchronous_commit = synchronous_commit.lower()
        self._clock = clock
        self._local = threading.local()
        self.durability_warning: str | None = None
        self._pool = _Pool(self._connect, pool_size, self.url)
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
            raise ConfigurationError(f"{_safe(url)}: malformed PostgreSQL URL: {exc}") from None
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        ours = [(k, v) for k, v in pairs if k in _OPTIONS]
        passed = [(k, v) for k, v in pairs if k not in _OPTIONS]
        query = url_options(parts._replace(query=urlencode(ours)).geturl(), _OPTIONS)
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
            reason = _one_line(exc, self._secrets)
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
                        result = step(_PgRows(conn, sql))
                        if conn.execute("COMMIT").statusmessage != "COMMIT":
                            raise LedgerError(
                                "the step's transaction was rolled back; nothing was kept",
                                url=self.url,
                            )
                    except psycopg.OperationalError:
                        _rollback(conn)
                        if not started and reused and conn.broken and not fresh:
                            fresh = True
                            continue
                        raise
                    except BaseException:
                        _rollback(conn)
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
        return _record(rows[0]) if rows else None

    def scopes(self, prefix: str = "") -> list[str]:
        return [row[0] for row in self._read(self._sql.list_scopes, (prefix,))]

    def reset(self, scope: str) -> bool:
        def delete(rows: Rows) -> bool:
            assert isinstance(rows, _PgRows)
            return rows.conn.execute(rows.sql.reset, (scope,)).fetchone() is not None

        return self._run(delete)

    def close(self) -> None:
        """Close every connection; later steps raise :class:`~ctxbudget.LedgerError`."""
        self._pool.close()
