"""Connections of the PostgreSQL ledger: the driver imported on first use, this ledger's URL
options, passwords kept out of every message, and a small pool of connections."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from ..._errors import ConfigurationError, LedgerError
from ._url import choice, positive_seconds

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "INSTALL",
    "OPTIONS",
    "SYNCHRONOUS_COMMIT",
    "Pool",
    "check_pool_size",
    "check_prefix",
    "driver",
    "one_line",
    "rollback",
    "safe_url",
    "secrets_of",
]

INSTALL = "pip install 'ctxbudget[postgres]'"
_PREFIX = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
SYNCHRONOUS_COMMIT = ("on", "off", "local", "remote_write", "remote_apply")


def driver() -> Any:
    """The ``psycopg`` module, imported on first use."""
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigurationError(
            f"the PostgreSQL ledger needs the psycopg package (3.1 or later): {INSTALL}"
        ) from exc
    return psycopg


_NETLOC_PASSWORD = re.compile(r"(://[^/@?#]*?:)[^/@?#]+(@)")
_QUERY_PASSWORD = re.compile(r"((?:^|[?&\s])password\s*=\s*)('[^']*'|[^&#\s]+)")


def safe_url(url: str) -> str:
    """``url`` with its password (in the netloc, a ``password=`` URL option or a key=value
    connection string) shown as ``***``; textual, so a malformed URL is shown safely too."""
    return _QUERY_PASSWORD.sub(r"\1***", _NETLOC_PASSWORD.sub(r"\1***\2", url))


def secrets_of(url: str) -> list[str]:
    """The passwords written in ``url`` (netloc and ``password=`` options), found without
    parsing it whole: libpq quotes a malformed URL in its error, password and all."""
    found = [m.group(0)[m.group(0).index(":", 3) + 1 : -1] for m in _NETLOC_PASSWORD.finditer(url)]
    found += [m.group(2).strip("'") for m in _QUERY_PASSWORD.finditer(url)]
    return [s for secret in found if secret for s in {secret, unquote(secret)}]


def one_line(exc: BaseException, secrets: Sequence[str] = ()) -> str:
    """A driver error's message on one line (libpq adds hints on indented lines), with every
    password in ``secrets`` replaced by ``***``."""
    text = str(exc)
    for secret in secrets:
        text = text.replace(secret, "***")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


def check_prefix(value: str) -> str:
    """A table-name prefix: 1-40 ASCII letters, digits or underscores, no leading digit (so
    the tables' names, quoted, are plain identifiers of at most 63 bytes)."""
    if not _PREFIX.fullmatch(value):
        raise ValueError("must be 1-40 letters, digits or underscores, not starting with a digit")
    return value


def check_pool_size(value: str) -> int:
    """A number of connections, 1 to 1000."""
    size = int(value) if value.isdigit() else 0
    if not 1 <= size <= 1000:
        raise ValueError("must be a whole number from 1 to 1000")
    return size


OPTIONS: dict[str, Callable[[str], Any]] = {
    "prefix": check_prefix,
    "pool_size": check_pool_size,
    "lock_timeout": positive_seconds,
    "synchronous_commit": choice(*SYNCHRONOUS_COMMIT),
}


def rollback(conn: psycopg.Connection[tuple[Any, ...]]) -> None:
    """End a failed step's transaction (a broken connection took it with it)."""
    with contextlib.suppress(Exception):
        if not conn.closed:
            conn.execute("ROLLBACK")


class Pool:
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
        psycopg = driver()
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
