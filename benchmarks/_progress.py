"""Progress on stderr for the long hand-run benchmarks (a full harness run takes minutes).

The bar is drawn by rich on stderr, only when stderr is a terminal (or
``CTXBUDGET_PROGRESS=1``), so piped output and the tables on stdout stay clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

__all__ = ["enabled", "stages"]


def enabled() -> bool:
    """Whether to draw progress: stderr is a terminal, or ``CTXBUDGET_PROGRESS`` is ``1``
    (``0`` turns it off even on a terminal)."""
    forced = os.environ.get("CTXBUDGET_PROGRESS")
    if forced in {"0", "1"}:
        return forced == "1"
    return sys.stderr.isatty()


@contextmanager
def stages(total: int, title: str = "benchmarks") -> Iterator[Callable[[str, Callable[[], T]], T]]:
    """A ``step(name, fn)`` that runs ``fn()`` under a bar of ``total`` stages and returns its
    result; without progress (see :func:`enabled`) it only runs ``fn()``."""
    if not enabled():
        yield lambda _name, fn: fn()
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=Console(stderr=True, force_terminal=True), transient=True
    ) as progress:
        task = progress.add_task(title, total=total)

        def step(name: str, fn: Callable[[], T]) -> T:
            progress.update(task, description=f"{title}: {name}")
            try:
                return fn()
            finally:
                progress.advance(task)

        yield step
