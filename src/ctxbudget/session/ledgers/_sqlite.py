"""The SQLite ledger: durable, safe across threads and processes on one host.

Each step runs inside one ``BEGIN IMMEDIATE`` transaction (the write lock is taken before
anything is read, so two processes can never both pass a check and both spend), in 5 statements
(every scope of a step read in one and written in one). Steps that threads of one process start
while a transaction runs are batched into the next one (group commit, :mod:`._batch`): each in
its own savepoint, with its own outcome and error, the durable sync paid once per batch, and no
step returning before its batch committed. The database runs in WAL
mode with ``synchronous=FULL`` by default: a commit that returned survives a killed process and
a power loss. ``?synchronous=normal`` in the URL trades the power-loss guarantee for speed (a
killed process still loses nothing).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ..._errors import ConfigurationError, LedgerError
from ._base import Hold, ScopeRecord
from ._batch import GroupCommit
from ._rows import Clock, RowLedger, Rows
from ._url import choice, url_options

__all__ = ["SQLiteLedger"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scopes (
    scope TEXT PRIMARY KEY,
    cap INTEGER,
    used INTEGER NOT NULL DEFAULT 0,
    reserved INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    warned INTEGER NOT NULL DEFAULT 0,
    exhausted INTEGER NOT NULL DEFAULT 0,
    expires REAL NOT NULL DEFAULT 0,
    overspent INTEGER NOT NULL DEFAULT 0,
    overspends INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    calls_unpriced INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS holds (
    id TEXT PRIMARY KEY,
    tokens INTEGER NOT NULL,
    scopes TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    retention REAL NOT NULL,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS holds_active ON holds (state, expires);
"""
# Columns added since the first release, added to older files when they are opened.
_ADDED_COLUMNS = {
    "scopes": (
        ("overspent", "INTEGER NOT NULL DEFAULT 0"),
        ("overspends", "INTEGER NOT NULL DEFAULT 0"),
        ("cached_input_tokens", "INTEGER NOT NULL DEFAULT 0"),
        ("cache_write_tokens", "INTEGER NOT NULL DEFAULT 0"),
        ("calls_unpriced", "INTEGER NOT NULL DEFAULT 0"),
    ),
    "holds": (("owner", "TEXT"),),
}
_SCOPE_COLUMNS = """scope, cap, used, reserved, calls, input_tokens, output_tokens, cost,
    created, updated, warned, exhausted, expires, overspent, overspends, cached_input_tokens,
    cache_write_tokens, calls_unpriced"""
# Only constant column lists and "?" placeholders are ever joined into SQL.
_GET_SCOPES = f"SELECT {_SCOPE_COLUMNS} FROM scopes WHERE scope IN "  # noqa: S608
_PUT_SCOPES = f"INSERT INTO scopes ({_SCOPE_COLUMNS}) VALUES "  # noqa: S608
# An upsert updates a row in place; INSERT OR REPLACE would delete it and insert it again
# (a new rowid, the primary-key index written twice): more pages in every transaction.
_UPSERT_SCOPES = " ON CONFLICT(scope) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in (c.strip() for c in _SCOPE_COLUMNS.split(",")) if c != "scope"
)
_ROW = "(" + ", ".join(["?"] * 18) + ")"
_ROWS_PER_PUT = 50  # 18 parameters a row: well under SQLite's oldest limit of 999
_GET_HOLD = """SELECT id, tokens, scopes, state, created, expires, retention, owner
    FROM holds WHERE id = ?"""
_PUT_HOLD = """INSERT INTO holds (id, tokens, scopes, state, created, expires, retention,
    owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET tokens =
    excluded.tokens, scopes = excluded.scopes, state = excluded.state, created =
    excluded.created, expires = excluded.expires, retention = excluded.retention, owner =
    excluded.owner"""
_EXPIRED_HOLDS = """SELECT id, tokens, scopes, state, created, expires, retention, owner
    FROM holds WHERE state = 'active' AND expires <= ?"""
_MIN_SQLITE = (3, 24, 0)  # ON CONFLICT ... DO UPDATE (upsert)
_SYNCHRONOUS = {"off": "OFF", "normal": "NORMAL", "full": "FULL", "extra": "EXTRA"}


def _record(row: tuple[Any, ...]) -> ScopeRecord:
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
        warned,
        exhausted,
        record.expires,
        record.overspent,
        record.overspends,
        record.cached_input_tokens,
        record.cache_write_tokens,
        record.calls_unpriced,
    ) = row
    record.warned, record.exhausted = bool(warned), bool(exhausted)
    return record


class _SqlRows(Rows):
    """Rows of one connection, inside its transaction: every scope of a step is read in one
    ``SELECT`` and written in one ``INSERT OR REPLACE``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def get_scopes(self, names: Sequence[str]) -> list[ScopeRecord | None]:
        if not names:
            return []
        sql = _GET_SCOPES + "(" + ", ".join(["?"] * len(names)) + ")"
        found = {row[0]: row for row in self.db.execute(sql, tuple(names))}
        return [_record(found[n]) if n in found else None for n in names]

    def put_scopes(self, records: Sequence[ScopeRecord]) -> None:
        for start in range(0, len(records), _ROWS_PER_PUT):
            chunk = records[start : start + _ROWS_PER_PUT]
            args: list[Any] = []
            for r in chunk:
                args += (
                    r.scope,
                    r.cap,
                    r.used,
                    r.reserved,
                    r.calls,
                    r.input_tokens,
                    r.output_tokens,
                    r.cost,
                    r.created,
                    r.updated,
                    int(r.warned),
                    int(r.exhausted),
                    r.expires,
                    r.overspent,
                    r.overspends,
                    r.cached_input_tokens,
                    r.cache_write_tokens,
                    r.calls_unpriced,
                )
            self.db.execute(_PUT_SCOPES + ", ".join([_ROW] * len(chunk)) + _UPSERT_SCOPES, args)

    @staticmethod
    def _hold(row: tuple[Any, ...]) -> Hold:
        return Hold(
            row[0], row[1], tuple(json.loads(row[2])), row[3], row[4], row[5], row[6], row[7]
        )

    def get_hold(self, hold_id: str) -> Hold | None:
        row = self.db.execute(_GET_HOLD, (hold_id,)).fetchone()
        return self._hold(row) if row is not None else None

    def put_hold(self, h: Hold) -> None:
        self.db.execute(
            _PUT_HOLD,
            (
                h.id,
                h.tokens,
                json.dumps(list(h.scopes)),
                h.state,
                h.created,
                h.expires,
                h.retention_s,
                h.owner,
            ),
        )

    def expired_holds(self, now: float) -> Sequence[Hold]:
        rows = self.db.execute(_EXPIRED_HOLDS, (now,)).fetchall()
        return [self._hold(r) for r in rows]

    def delete_before(self, now: float) -> None:
        self.db.execute("DELETE FROM scopes WHERE expires > 0 AND expires < ?", (now,))
        self.db.execute("DELETE FROM holds WHERE state != 'active' AND expires < ?", (now,))


class SQLiteLedger(RowLedger):
    """Spend kept in a SQLite file (``sqlite:///relative.db``, ``sqlite:////abs/path.db``).

    One connection per thread; every step runs in one ``BEGIN IMMEDIATE`` transaction, shared
    with the steps of this process's other threads that were waiting for it (group commit).

    Args:
        path: the database file (created if missing).
        synchronous: ``"full"`` (default, durable across power loss) or ``"normal"``.
        timeout_s: seconds to wait for another writer's lock before failing.
        clock: returns the current time in seconds (default ``time.time``).

    Raises:
        LedgerError: the file cannot be opened or is not a ctxbudget SQLite ledger (corrupt, or
            another kind of file); the message names the path.
    """

    schemes = ("sqlite",)

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "full",
        timeout_s: float = 30.0,
        clock: Clock = time.time,
    ) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        if synchronous.lower() not in _SYNCHRONOUS:
            raise ConfigurationError(
                f"{self.url}: synchronous must be one of {', '.join(_SYNCHRONOUS)}, "
                f"got {synchronous!r}"
            )
        self.synchronous = _SYNCHRONOUS[synchronous.lower()]
        # (device, inode) of the file when first opened: a file deleted or replaced while
        # open would take writes that no other process sees (checked at every step).
        self._identity: tuple[int, int] | None = None
        self._timeout = timeout_s
        self._clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self._batch = GroupCommit(self._connect, self._check_file, self.url)
        # A ledger dropped without close() still closes its connections when collected.
        weakref.finalize(self, _close_all, self._connections, self._guard)
        self._connect()  # fail now, with the path, if the file is unusable

    @classmethod
    def from_url(cls, url: str, **options: Any) -> SQLiteLedger:
        """``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``;
        ``?synchronous=normal`` sets the durability level."""
        parts = urlsplit(url)
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if parts.netloc or not path:
            raise ConfigurationError(
                f"{url}: write sqlite:///relative.db or sqlite:////absolute/path.db"
            )
        query = url_options(url, {"synchronous": choice(*_SYNCHRONOUS)})
        if "synchronous" in query:
            options.setdefault("synchronous", query["synchronous"])
        return cls(path, **options)

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise LedgerError(
                f"the SQLite ledger needs SQLite >= 3.24 (upsert); this Python links SQLite "
                f"{sqlite3.sqlite_version}: use a newer Python build, or another ledger",
                url=self.url,
            )
        try:
            # Each thread uses its own connection; only close() touches them all.
            db = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise LedgerError(
                f"cannot open SQLite ledger {self.path!r}: {exc}", url=self.url
            ) from exc
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            db.executescript(_SCHEMA)
            _add_missing_columns(db)
        except sqlite3.Error as exc:
            db.close()
            raise LedgerError(
                f"cannot open SQLite ledger {self.path!r}: {exc} (is it a ctxbudget ledger file?)",
                url=self.url,
            ) from exc
        self._local.db = db
        with self._guard:
            self._connections.append(db)
            if self._identity is None:
                self._identity = self._file_identity()
        return db

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def _check_file(self) -> None:
        """Raise when the ledger file is no longer the one this ledger opened."""
        if self._identity is not None and self._file_identity() != self._identity:
            raise LedgerError(
                f"the ledger file {self.path!r} was deleted or replaced while open: spend "
                f"written now would be lost to every other process; reopen the ledger (or "
                f"restore the file) and check its totals",
                url=self.url,
            )

    def _run(self, step: Callable[[Rows], T]) -> T:
        """One step, in a transaction shared with the steps other threads of this process
        started meanwhile (group commit, see :mod:`._batch`); returns once it is durable."""
        return self._batch.run(lambda db: step(_SqlRows(db)))

    def _now(self) -> float:
        return self._clock()

    def _read(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        db = self._connect()
        self._check_file()
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"read failed: {exc}", url=self.url) from exc

    def status(self, scope: str) -> ScopeRecord | None:
        db = self._connect()
        self._check_file()
        try:
            return _SqlRows(db).get_scopes([scope])[0]
        except sqlite3.Error as exc:
            raise LedgerError(f"read failed: {exc}", url=self.url) from exc

    def scopes(self, prefix: str = "") -> list[str]:
        rows = self._read(
            "SELECT scope FROM scopes WHERE substr(scope, 1, ?) = ? ORDER BY scope",
            (len(prefix), prefix),
        )
        return [r[0] for r in rows]

    def reset(self, scope: str) -> bool:
        def delete(rows: Rows) -> bool:
            assert isinstance(rows, _SqlRows)
            return rows.db.execute("DELETE FROM scopes WHERE scope = ?", (scope,)).rowcount > 0

        return self._run(delete)

    def close(self) -> None:
        _close_all(self._connections, self._guard)
        self._local = threading.local()


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Bring a ledger file written by an older release up to today's columns."""
    for table, columns in _ADDED_COLUMNS.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for name, declaration in columns:
            if name not in have:
                try:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):  # another process added it first
                        raise


def _close_all(connections: list[sqlite3.Connection], guard: threading.Lock) -> None:
    with guard:
        for db in connections:
            db.close()
        connections.clear()
