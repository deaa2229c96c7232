"""Group commit: concurrent steps of one process share one SQLite transaction.

A step that finds no transaction running leads: it takes every step waiting (its own first),
opens one ``BEGIN IMMEDIATE`` transaction on its thread's connection, runs each step inside its
own ``SAVEPOINT`` (a step that raises is rolled back to it, alone, and gets its own error) and
commits once, so the write lock and the durable sync (``synchronous=FULL``: an fsync) are paid
once per batch. Steps arriving meanwhile wait and form the next batch. No step returns before
the transaction holding it has committed, so a returned step is as durable as a step alone.
Other processes take the write lock between batches as they would between steps.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from ..._errors import LedgerError

__all__ = ["GroupCommit"]

T = TypeVar("T")

_PENDING = object()  # an entry's result before its batch ran


class _Entry:
    __slots__ = ("done", "error", "result", "step")

    def __init__(self, step: Callable[[sqlite3.Connection], Any]) -> None:
        self.step = step
        self.result: Any = _PENDING
        self.error: BaseException | None = None
        self.done = False


class GroupCommit:
    """Runs steps from many threads as batches, each batch one transaction.

    Args:
        connect: this thread's connection (the leader's is used for its batch).
        check: called under the write lock before any step (raises
            :class:`~ctxbudget.LedgerError` to fail the whole batch).
        url: the ledger's URL, for error messages.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        check: Callable[[], None],
        url: str,
    ) -> None:
        self._connect = connect
        self._check = check
        self._url = url
        self._cond = threading.Condition(threading.Lock())
        self._pending: list[_Entry] = []
        self._leading = False

    def run(self, step: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``step(connection)`` in a transaction, maybe beside other threads' steps, and
        return its result once that transaction committed.

        Raises:
            LedgerError: the store failed (the step's own SQL, or the batch's transaction).
            Exception: whatever the step raised (nothing it did is kept).
        """
        entry = _Entry(step)
        with self._cond:
            self._pending.append(entry)
            while self._leading and not entry.done:
                self._cond.wait()
            if entry.done:
                return cast("T", _outcome(entry))
            self._leading = True
            batch, self._pending = self._pending, []
        try:
            self._execute(batch)
        finally:
            with self._cond:
                for other in batch:
                    if other.result is _PENDING and other.error is None:
                        other.error = LedgerError(
                            "the batch of this step was interrupted; nothing of it was kept",
                            url=self._url,
                        )
                    other.done = True
                self._leading = False
                self._cond.notify_all()
        return cast("T", _outcome(entry))

    def _fail(self, entries: list[_Entry], message: str, cause: BaseException) -> None:
        for entry in entries:
            error = LedgerError(message, url=self._url)
            error.__cause__ = cause
            entry.error, entry.result = error, _PENDING

    def _execute(self, batch: list[_Entry]) -> None:
        """Run ``batch`` in one transaction; sets each entry's result or error."""
        try:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
        except (sqlite3.Error, LedgerError) as exc:
            self._fail(batch, f"cannot start a transaction: {exc}", exc)
            return
        try:
            self._check()  # under the write lock: no step lands in a lost file
            kept = self._steps(db, batch)
            if kept:
                db.execute("COMMIT")
            else:
                db.execute("ROLLBACK")
        except LedgerError as exc:
            _rollback(db)
            self._fail(batch, str(exc), exc)
        except sqlite3.Error as exc:
            _rollback(db)
            self._fail(
                [e for e in batch if e.error is None], f"cannot commit a transaction: {exc}", exc
            )
        except BaseException:
            _rollback(db)
            raise

    def _steps(self, db: sqlite3.Connection, batch: list[_Entry]) -> bool:
        """Run each step in its savepoint; ``True`` if any step's work is to be kept.

        Raises:
            sqlite3.Error: the transaction itself failed (a savepoint could not be undone, or
                SQLite rolled the whole transaction back): no step's work can be kept.
        """
        alone = len(batch) == 1  # nothing else to keep: a failure rolls back the transaction
        kept = False
        for entry in batch:
            if not alone:
                db.execute("SAVEPOINT step")
            try:
                entry.result = entry.step(db)
            except Exception as exc:
                if isinstance(exc, sqlite3.Error):
                    error = LedgerError(f"ledger step failed: {exc}", url=self._url)
                    error.__cause__ = exc
                    entry.error = error
                else:
                    entry.error = exc
                if not db.in_transaction:  # SQLite undid the whole batch (e.g. disk full)
                    raise sqlite3.OperationalError(
                        f"the transaction was rolled back: {exc}"
                    ) from exc
                if not alone:
                    db.execute("ROLLBACK TO step")
                    db.execute("RELEASE step")
            else:
                kept = True
                if not alone:
                    db.execute("RELEASE step")
        return kept


def _outcome(entry: _Entry) -> Any:
    if entry.error is not None:
        raise entry.error
    return entry.result


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # a broken connection took it with it
            db.execute("ROLLBACK")
