"""Ledger steps written once, run by the sync API and by the async API.

Each operation of the session budget (reserve, commit, rollback, renew, record, charge, reap,
status) is a generator: it checks its arguments, yields the one ledger step it needs as a
:class:`Call`, receives the step's result (or its exception, thrown in), fires its events and
returns the operation's result. :func:`run` performs the step by calling the ledger's method;
:func:`arun` awaits :meth:`Ledger.astep <ctxbudget.ledgers.Ledger.astep>` instead, which a
ledger with an async driver implements natively (Redis through ``redis.asyncio``) and every
other ledger runs in a worker thread. Both forms therefore share every check, event and error.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

if TYPE_CHECKING:
    from .ledgers import Ledger

__all__ = ["Call", "Steps", "arun", "call", "run"]

T = TypeVar("T")


class Call(NamedTuple):
    """One ledger step: the :class:`~ctxbudget.ledgers.Ledger` method ``name`` and its
    arguments."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


#: An operation: yields its ledger steps, receives their results, returns its own.
Steps = Generator[Call, Any, T]


def call(name: str, *args: Any, **kwargs: Any) -> Call:
    """The step ``ledger.<name>(*args, **kwargs)``."""
    return Call(name, args, kwargs)


def run(ledger: Ledger, steps: Steps[T]) -> T:
    """Perform ``steps`` with the ledger's sync methods; returns the operation's result.

    Raises:
        Whatever the operation raises (a ledger's exception is thrown into it first, so the
        operation may handle it).
    """
    try:
        name, args, kwargs = next(steps)
        while True:
            try:
                result = getattr(ledger, name)(*args, **kwargs)
            except Exception as exc:  # noqa: PERF203 - one or two steps an operation
                name, args, kwargs = steps.throw(exc)
            else:
                name, args, kwargs = steps.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def arun(ledger: Ledger, steps: Steps[T]) -> T:
    """Perform ``steps`` with :meth:`Ledger.astep`, never blocking the event loop on the
    ledger; returns the operation's result. A cancellation propagates as it is.

    Raises:
        As :func:`run`.
    """
    try:
        step = next(steps)
        while True:
            try:
                result = await ledger.astep(step.name, *step.args, **step.kwargs)
            except Exception as exc:  # noqa: PERF203 - one or two steps an operation
                step = steps.throw(exc)
            else:
                step = steps.send(result)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
