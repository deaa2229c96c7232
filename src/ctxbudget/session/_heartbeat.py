"""The heartbeat: one daemon thread per process that renews the leases of live reservations.

A reservation made with ``heartbeat=True`` (the default of :meth:`SessionBudget.reserve`, and
what :func:`~ctxbudget.guard` uses) is renewed every third of its lease for as long as its
:class:`~ctxbudget.Reservation` object is alive and unsettled, so a slow call never loses its
tokens; the lease then only reclaims holders that are really gone (a dead process, or a
stalled one that could not renew for two thirds of the lease). A reservation dropped without
commit or rollback (garbage collected) is rolled back by the heartbeat, with a warning logged,
as leaving a ``with`` block without a commit would.

Renewals run in this thread, never in the caller's event loop.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .._errors import ReservationError
from .ledgers import Ledger

__all__ = ["HEARTBEAT", "Heartbeat"]

log = logging.getLogger("ctxbudget.session")


class _Renewable(Protocol):
    id: str
    tokens: int
    state: str

    def _lease_lost(self) -> None: ...

    def rollback(self) -> None: ...


@dataclass
class _Entry:
    ref: Callable[[], _Renewable | None]
    reservation_id: str
    tokens: int
    ledger: Ledger
    lease_s: float
    due: float  # time.monotonic() of the next renewal


class Heartbeat:
    """Renews registered reservations every ``lease_s / 3`` seconds, in one daemon thread."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._entries: dict[str, _Entry] = {}
        self._thread: threading.Thread | None = None
        self._wake_at = float("inf")
        #: renewals done, for tests and diagnostics
        self.renewals = 0

    def add(self, reservation: _Renewable, ledger: Ledger, lease_s: float) -> None:
        """Keep renewing ``reservation`` until :meth:`remove` or until it is collected."""
        due = time.monotonic() + lease_s / 3
        entry = _Entry(
            weakref.ref(reservation), reservation.id, reservation.tokens, ledger, lease_s, due
        )
        with self._cond:
            self._entries[reservation.id] = entry
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ctxbudget-heartbeat", daemon=True
                )
                self._thread.start()
            if due < self._wake_at:
                self._cond.notify()

    def remove(self, reservation_id: str) -> None:
        """Stop renewing a settled reservation."""
        with self._cond:
            self._entries.pop(reservation_id, None)

    def release(self, ledger: Ledger) -> list[_Renewable]:
        """Stop renewing every reservation in ``ledger``; returns those still alive."""
        with self._cond:
            mine = [e for e in self._entries.values() if e.ledger is ledger]
            for entry in mine:
                del self._entries[entry.reservation_id]
        return [r for r in (e.ref() for e in mine) if r is not None]

    def __len__(self) -> int:
        with self._cond:
            return len(self._entries)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    due = [e for e in self._entries.values() if e.due <= now]
                    if due:
                        break
                    self._wake_at = min((e.due for e in self._entries.values()), default=now + 60)
                    self._cond.wait(self._wake_at - now)
                self._wake_at = float("-inf")  # busy: no need to be woken
            for entry in due:
                self._beat(entry)

    def _drop(self, entry: _Entry) -> None:
        with self._cond:
            if self._entries.get(entry.reservation_id) is entry:
                del self._entries[entry.reservation_id]

    def _beat(self, entry: _Entry) -> None:
        reservation = entry.ref()
        try:
            if reservation is None:
                self._abandoned(entry)
                return
            if reservation.state != "active":
                self._drop(entry)
                return
            renewed = entry.ledger.renew(entry.reservation_id, entry.lease_s)
        except ReservationError:
            self._drop(entry)  # settled through another handle
            return
        except Exception as exc:  # a ledger failure: try again soon, the lease is not out yet
            log.warning("ctxbudget: heartbeat of %s failed: %s", entry.reservation_id, exc)
            entry.due = time.monotonic() + entry.lease_s / 6
            return
        self.renewals += 1
        if renewed:
            entry.due = time.monotonic() + entry.lease_s / 3
            return
        self._drop(entry)
        reservation._lease_lost()

    def _abandoned(self, entry: _Entry) -> None:
        """A reservation collected unsettled: roll it back, as a ``with`` block would.

        A ledger failure propagates (the rollback is tried again at the next beat)."""
        try:
            entry.ledger.rollback(entry.reservation_id)
        except ReservationError:
            self._drop(entry)
            return  # settled meanwhile, or reclaimed
        self._drop(entry)
        log.warning(
            "ctxbudget: reservation %s (%d tokens) was dropped without commit or rollback; "
            "it was rolled back (use it as a context manager, or commit it)",
            entry.reservation_id,
            entry.tokens,
        )


#: The process's heartbeat.
HEARTBEAT = Heartbeat()
