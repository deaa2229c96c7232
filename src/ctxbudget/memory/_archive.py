"""The archive: every trimmed or compacted block, kept whole and retrievable by id.

A block's content is stored as JSON (text, a list of items, or chat messages), so
``archive.get(id).content`` equals what was put, exactly. Blocks are content-addressed
(:func:`block_id`): the same content from the same source always gets the same id, in any
process, and is stored once. Backends follow the ledgers' URL style:
``archive_from_url("memory://")``, ``archive_from_url("sqlite:///archive.db")``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from .._errors import ArchiveError, ConfigurationError
from .._unicode import has_lone_surrogate, replace_lone_surrogates

__all__ = ["Archive", "ArchivedBlock", "MemoryArchive", "SQLiteArchive", "archive_from_url"]


@dataclass(frozen=True)
class ArchivedBlock:
    """One archived block.

    Attributes:
        id: its id: 32 hex digits derived from its content and source (:func:`block_id`);
            blocks archived before content addressing keep their random ``uuid4`` hex ids.
        content: exactly what was archived: a str, a list of str, or a list of message dicts.
        tokens: its size in tokens (as measured by whoever archived it).
        summary: a one-line description or summary of the block.
        source: where it came from (a section name, a conversation id).
        start, end: the time range it covers (UTC), or ``None``.
        created: when it was archived (UTC).
    """

    id: str
    content: Any
    tokens: int
    summary: str
    source: str
    start: datetime | None
    end: datetime | None
    created: datetime


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _dt(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=timezone.utc) if value is not None else None


#: The one key of the JSON object that stands for a datetime in archived content.
_DATETIME = "$datetime"


def to_json_data(value: Any) -> Any:
    """``value`` with every datetime (messages' timestamps) replaced by the JSON object
    ``{"$datetime": "<ISO 8601>"}``, so it survives ``json.dumps``; :func:`from_json_data`
    turns them back. Dicts and lists are copied; anything else is returned as it is."""
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, dict):
        return {k: to_json_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_data(v) for v in value]
    return value


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and isinstance(obj.get(_DATETIME), str):
        return datetime.fromisoformat(obj[_DATETIME])
    return obj


def from_json_data(value: Any) -> Any:
    """The inverse of :func:`to_json_data` on data read back from JSON."""
    if isinstance(value, dict):
        return _untag({k: from_json_data(v) for k, v in value.items()})
    if isinstance(value, list):
        return [from_json_data(v) for v in value]
    return value


def _label(text: str) -> str:
    return replace_lone_surrogates(text) if has_lone_surrogate(text) else text


def _decode(text: str) -> Any:
    return json.loads(text, object_hook=_untag)


def _encode(content: Any) -> str:
    try:
        data = to_json_data(content)
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
        if has_lone_surrogate(text):  # text that is not valid Unicode is kept JSON-escaped
            text = json.dumps(data, ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ArchiveError(
            f"archive content must be JSON data (text, items, messages; datetimes allowed): {exc}"
        ) from exc
    if not isinstance(content, str) and _decode(text) != content:  # a str always round-trips
        raise ArchiveError("archive content would not round-trip exactly through JSON")
    return text


#: Hex digits of a block id: 128 bits of sha256, the length of the ``uuid4().hex`` ids that
#: archives used before (still read). Two of n distinct blocks share an id with probability
#: about n**2 / 2**129 (the birthday bound): below 1e-14 for a trillion blocks.
ID_HEX_DIGITS = 32


def block_id(content: Any, source: str = "") -> str:
    """The id of a block: the first :data:`ID_HEX_DIGITS` hex digits of the sha256 of
    ``json.dumps([source, to_json_data(content)], sort_keys=True, ensure_ascii=True,
    separators=(",", ":"), allow_nan=False)`` encoded as ASCII.

    The source is hashed with the content, so the same text lost by two sections is two
    blocks, each with its own label. Keys are sorted, so chat messages that differ only in
    dict key order are one block (the content stored is the first put's, key order included).
    ``ensure_ascii`` escapes lone surrogates (``\\udc80``), so any content has one encoding.
    Datetimes hash as their ISO 8601 text (:func:`to_json_data`).

    Raises:
        ArchiveError: the content is not JSON data.
    """
    try:
        canonical = json.dumps(
            [source, to_json_data(content)],
            sort_keys=True,
            ensure_ascii=True,
            separators=(",", ":"),
            allow_nan=False,
        )
    except (TypeError, ValueError) as exc:
        raise ArchiveError(
            f"archive content must be JSON data (text, items, messages; datetimes allowed): {exc}"
        ) from exc
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:ID_HEX_DIGITS]


class Archive(ABC):
    """Where archived blocks live. ``put`` returns an id; ``get(id)`` returns the block.

    Ids are content-addressed (:func:`block_id`): putting the same content and source again
    returns the same id and stores nothing; ``len(archive)`` counts distinct blocks.

    Raises:
        ArchiveError: the store failed, or the content is not JSON data.
        KeyError: ``get`` of an unknown id.
    """

    url: str = ""

    def put(
        self,
        content: Any,
        *,
        tokens: int,
        summary: str = "",
        source: str = "",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> str:
        """Archive ``content`` (text, items or messages) and return its id, :func:`block_id`
        of ``content`` and ``source``.

        ``content`` comes back exactly, lone surrogates included; ``summary`` and ``source``
        are labels, stored with any lone surrogate as U+FFFD. When the block is already
        archived, nothing is stored: the first put's content and metadata (``tokens``,
        ``summary``, ``start``, ``end``, ``created``) are kept.

        Raises:
            ArchiveError: the content is not JSON data, or the store failed.
        """
        key = block_id(content, source)
        row = (
            key,
            _encode(content),
            int(tokens),
            _label(summary),
            _label(source),
            _ts(start),
            _ts(end),
            time.time(),
        )
        self._put(row)
        return key

    @abstractmethod
    def _put(self, row: tuple[Any, ...]) -> None:
        """Store ``(id, content JSON, tokens, summary, source, start, end, created)``, unless
        a block of that id is stored already (then keep that one)."""

    @abstractmethod
    def _rows(self, block_id: str | None, source: str | None) -> list[tuple[Any, ...]]: ...

    def _count(self) -> int:
        return len(self._rows(None, None))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Puts inside are written together (one SQLite transaction); for a builder that
        archives thousands of trimmed items at once."""
        yield

    @staticmethod
    def _block(row: tuple[Any, ...]) -> ArchivedBlock:
        block_id, content, tokens, summary, source, start, end, created = row
        return ArchivedBlock(
            block_id,
            _decode(content),
            tokens,
            summary,
            source,
            _dt(start),
            _dt(end),
            _dt(created) or datetime.now(timezone.utc),
        )

    def get(self, block_id: str) -> ArchivedBlock:
        """The block ``block_id``.

        Raises:
            KeyError: no block has that id.
        """
        rows = self._rows(block_id, None)
        if not rows:
            raise KeyError(f"no archived block {block_id!r}")
        return self._block(rows[0])

    def blocks(self, source: str | None = None) -> list[ArchivedBlock]:
        """Every block (of ``source`` when given), oldest first."""
        return [self._block(r) for r in self._rows(None, source)]

    def __len__(self) -> int:
        """How many distinct blocks are archived."""
        return self._count()

    def close(self) -> None:  # noqa: B027 - optional
        """Release the store; the archive is unusable afterwards."""

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemoryArchive(Archive):
    """Blocks kept in this process (``memory://``), thread-safe."""

    def __init__(self) -> None:
        self.url = "memory://"
        self._data: dict[str, tuple[Any, ...]] = {}
        self._lock = threading.Lock()

    def _put(self, row: tuple[Any, ...]) -> None:
        with self._lock:
            self._data.setdefault(row[0], row)

    def _count(self) -> int:
        with self._lock:
            return len(self._data)

    def _rows(self, block_id: str | None, source: str | None) -> list[tuple[Any, ...]]:
        with self._lock:
            if block_id is not None:
                row = self._data.get(block_id)
                return [row] if row is not None else []
            return [r for r in self._data.values() if source is None or r[4] == source]


class SQLiteArchive(Archive):
    """Blocks kept in a SQLite file (``sqlite:///archive.db``), durable, safe across processes.

    Raises:
        ArchiveError: the file cannot be opened or is not a SQLite database (path named).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._lock = threading.RLock()  # held across a transaction's puts
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            # An archive dropped without close() still closes its connection when collected.
            weakref.finalize(self, self._db.close)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS blocks (id TEXT PRIMARY KEY, content TEXT NOT NULL, "
                "tokens INTEGER NOT NULL, summary TEXT NOT NULL, source TEXT NOT NULL, "
                "start REAL, end_ REAL, created REAL NOT NULL)"
            )
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot open SQLite archive {path!r}: {exc}", url=self.url) from exc

    def _put(self, row: tuple[Any, ...]) -> None:
        try:
            with self._lock:
                self._db.execute(
                    "INSERT OR IGNORE INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row
                )
        except sqlite3.Error as exc:
            raise ArchiveError(f"archive write failed: {exc}", url=self.url) from exc

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise ArchiveError(f"archive write failed: {exc}", url=self.url) from exc
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ArchiveError(f"archive write failed: {exc}", url=self.url) from exc

    def _count(self) -> int:
        try:
            with self._lock:
                (count,) = self._db.execute("SELECT COUNT(*) FROM blocks").fetchone()
        except sqlite3.Error as exc:
            raise ArchiveError(f"archive read failed: {exc}", url=self.url) from exc
        return int(count)

    def _rows(self, block_id: str | None, source: str | None) -> list[tuple[Any, ...]]:
        sql = "SELECT id, content, tokens, summary, source, start, end_, created FROM blocks"
        args: tuple[Any, ...] = ()
        if block_id is not None:
            sql, args = sql + " WHERE id = ?", (block_id,)
        elif source is not None:
            sql, args = sql + " WHERE source = ?", (source,)
        try:
            with self._lock:
                return list(self._db.execute(sql + " ORDER BY created, rowid", args).fetchall())
        except sqlite3.Error as exc:
            raise ArchiveError(f"archive read failed: {exc}", url=self.url) from exc

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()


def archive_from_url(url: str) -> Archive:
    """``memory://`` or ``sqlite:///path.db`` (the ledgers' URL style).

    Raises:
        ConfigurationError: another scheme (the message lists the known ones) or a bad path.
        ArchiveError: the store fails.
    """
    parts = urlsplit(url)
    if parts.scheme == "memory":
        return MemoryArchive()
    if parts.scheme == "sqlite":
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if parts.netloc or not path:
            raise ConfigurationError(
                f"{url}: write sqlite:///relative.db or sqlite:////absolute/path.db"
            )
        return SQLiteArchive(path)
    raise ConfigurationError(
        f"{url}: unknown archive scheme {parts.scheme!r}; known: memory://, sqlite://"
    )
