"""Which process holds a reservation, and whether that process is still running.

A reservation renewed by a heartbeat records its owner: the process identity
``"<boot id>/<pid namespace>/<pid>/<start time>"`` read from Linux's ``/proc``. A row ledger
(memory, SQLite: one host) never reclaims the hold of an owner that is still running, so a
holder whose heartbeat waits for a busy write lock keeps its tokens; a dead owner's holds go
back to the pool when their lease runs out. The start time (clock ticks since boot, field 22
of ``/proc/<pid>/stat``, see proc(5)) tells a reused pid from the original process; a zombie
counts as dead. Where ``/proc`` is missing (macOS, Windows), or the owner ran in another pid
namespace or boot, liveness is unknown and the lease alone decides.
"""

from __future__ import annotations

import functools
import os

__all__ = ["owner_alive", "this_process"]

_identity: dict[int, str | None] = {}  # pid -> identity (a fork gets its own)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _start_and_state(pid: int) -> tuple[str, str] | None:
    """``(start time in ticks, state letter)`` of ``pid`` from ``/proc/<pid>/stat``."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None or ")" not in stat:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may contain spaces and ")"
    if len(fields) < 20:
        return None
    return fields[19], fields[0]  # field 22 (starttime) and field 3 (state)


@functools.cache
def _namespace() -> str | None:
    """This boot and pid namespace (the same for every process that can see our pids)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot}/{pidns}" if boot else None


def this_process() -> str | None:
    """This process's owner identity, or ``None`` where it cannot be told (no ``/proc``)."""
    pid = os.getpid()
    if pid not in _identity:
        namespace = _namespace()
        own = _start_and_state(pid)
        _identity[pid] = f"{namespace}/{pid}/{own[0]}" if namespace and own else None
    return _identity[pid]


def owner_alive(owner: str | None) -> bool | None:
    """``True`` if the process ``owner`` names is running, ``False`` if it is gone, ``None``
    when that cannot be told from here (no owner, another host, boot or pid namespace)."""
    if not owner:
        return None
    head, _, rest = owner.rpartition("/")
    namespace, _, pid_text = head.rpartition("/")
    if namespace != _namespace() or not pid_text.isdigit():
        return None
    found = _start_and_state(int(pid_text))
    return found is not None and found[0] == rest and found[1] not in ("Z", "X")
