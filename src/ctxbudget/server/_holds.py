"""Reservations held by the server process for its HTTP clients, and their settled outcomes.

A reservation made over HTTP lives in this process: :meth:`SessionBudget.reserve` with the
heartbeat renews its lease while the server runs and the client keeps asking about it. One
the client forgets (no renew, commit or rollback for ``idle_s`` seconds) is rolled back by
the next sweep, which every new reservation runs first. A server that stops leaves its holds
to the ledger, which reclaims them once their lease has passed. Settled outcomes are kept
``keep_s`` seconds, so a replayed commit or rollback returns the first answer.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._errors import CtxBudgetError
from ..session import Reservation

__all__ = ["Entry", "Holds"]


@dataclass
class Entry:
    """One reservation: the live object while active, then the settled answer."""

    reservation: Reservation
    touched: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: ``(action, body)`` once settled: ``"commit"`` or ``"rollback"``, and the JSON answer.
    outcome: tuple[str, dict[str, Any]] | None = None
    settled_at: float = 0.0


class Holds:
    """Reservations by id, thread-safe. Times are :func:`time.monotonic` seconds."""

    def __init__(self, *, idle_s: float, keep_s: float) -> None:
        self.idle_s = idle_s
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}

    def add(self, reservation: Reservation) -> bool:
        """Hold ``reservation`` (after a sweep of idle and old entries); ``False`` when it is
        held already (an idempotent replay: its entry, settled or not, is kept)."""
        self.sweep()
        with self._lock:
            if reservation.id in self._entries:
                self._entries[reservation.id].touched = time.monotonic()
                return False
            self._entries[reservation.id] = Entry(reservation, time.monotonic())
            return True

    def get(self, reservation_id: str) -> Entry | None:
        """The entry of ``reservation_id`` (touched: it is not idle), or ``None``."""
        with self._lock:
            entry = self._entries.get(reservation_id)
        if entry is not None:
            entry.touched = time.monotonic()
        return entry

    def settle(
        self, entry: Entry, action: str, step: Callable[[Reservation], dict[str, Any]]
    ) -> tuple[bool, str, dict[str, Any]]:
        """Run ``step`` once per entry: ``(True, action, body)`` the first time, then
        ``(False, first action, first body)`` for every replay.

        Raises:
            The errors of ``step``; the entry then stays active.
        """
        with entry.lock:
            if entry.outcome is not None:
                return False, *entry.outcome
            body = step(entry.reservation)
            entry.outcome = (action, body)
            entry.settled_at = time.monotonic()
            return True, action, body

    def sweep(self) -> int:
        """Roll back reservations idle for ``idle_s`` and forget outcomes older than
        ``keep_s``; returns how many were rolled back."""
        now = time.monotonic()
        with self._lock:
            entries = list(self._entries.items())
        rolled = 0
        for reservation_id, entry in entries:
            if entry.outcome is None and now - entry.touched > self.idle_s:
                with entry.lock:
                    if entry.outcome is None:
                        with contextlib.suppress(CtxBudgetError):
                            entry.reservation.rollback()
                        entry.outcome = ("rollback", {"id": reservation_id, "state": "rolled_back"})
                        entry.settled_at = now
                        rolled += 1
            elif entry.outcome is not None and now - entry.settled_at > self.keep_s:
                with self._lock:
                    self._entries.pop(reservation_id, None)
        return rolled

    def open_count(self) -> int:
        """Reservations still active."""
        with self._lock:
            return sum(1 for e in self._entries.values() if e.outcome is None)
