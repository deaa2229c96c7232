"""The PostgreSQL ledger's tables and statements, and its :class:`Rows` over one connection."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._base import Hold, ScopeRecord
from ._rows import Rows

if TYPE_CHECKING:
    import psycopg

__all__ = ["PgRows", "Statements", "hold_of", "scope_record"]

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


def scope_record(row: Sequence[Any]) -> ScopeRecord:
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


def hold_of(row: Sequence[Any]) -> Hold:
    return Hold(row[0], row[1], tuple(row[2]), row[3], row[4], row[5], row[6], row[7])


class Statements:
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


class PgRows(Rows):
    """Rows of one connection inside its step's transaction: every scope of a step is read
    in one ``SELECT`` and written in one upsert."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]], sql: Statements) -> None:
        self.conn = conn
        self.sql = sql

    def get_scopes(self, names: Sequence[str]) -> list[ScopeRecord | None]:
        if not names:
            return []
        rows = self.conn.execute(self.sql.get_scopes, (list(names),)).fetchall()
        found = {row[0]: row for row in rows}
        return [scope_record(found[n]) if n in found else None for n in names]

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
        return hold_of(row) if row is not None else None

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
        return [hold_of(r) for r in rows]

    def delete_before(self, now: float) -> None:
        self.conn.execute(self.sql.delete_scopes, (now,))
        self.conn.execute(self.sql.delete_holds, (now,))
