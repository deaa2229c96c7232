"""The hook point of tracing: a no-op until an integration installs a tracer.

ctxbudget marks the calls worth a span with :func:`traced` (a build, a guarded LLM call), the
stages of a call with :func:`stage`, and notes what it learns on the way with :func:`note` (the
tokens a guard reserved, a commit, a refusal). With no tracer installed, each costs one global
read and imports nothing; :func:`ctxbudget.integrations.otel.instrument` installs one that turns
them into OpenTelemetry spans. This module knows no tracing library: a tracer is anything with
the :class:`Tracer` shape.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar, cast

__all__ = ["Trace", "Tracer", "install", "note", "stage", "traced"]

F = TypeVar("F", bound=Callable[..., Any])


class Trace(Protocol):
    """One traced call while it runs, as a tracer records it."""

    def stage(self, name: str, started_ns: int) -> None:
        """Stage ``name`` began at ``started_ns`` (``time.perf_counter_ns()``); the previous
        stage ended there."""

    def note(self, key: str, value: object) -> None:
        """A fact learned during the call (see :func:`note` for the keys ctxbudget sends)."""

    def finish(self, result: object) -> None:
        """The call returned ``result`` (not called when it raised)."""


class Tracer(Protocol):
    """What :func:`install` takes: opens a :class:`Trace` around each traced call."""

    def trace(self, name: str, arguments: Mapping[str, Any]) -> AbstractContextManager[Trace]:
        """A context manager around the call ``name`` with its bound ``arguments``; an
        exception of the call passes through its ``__exit__``."""


_tracer: Tracer | None = None
_current: ContextVar[Trace | None] = ContextVar("ctxbudget_trace", default=None)


def install(tracer: Tracer | None) -> Tracer | None:
    """Install ``tracer`` for every traced call from now on (``None``: tracing off); returns
    the tracer it replaces."""
    global _tracer  # the one switch of the hook point
    previous, _tracer = _tracer, tracer
    return previous


def note(key: str, value: object) -> None:
    """Tell the innermost traced call of this thread or task about ``value``; nothing when
    none runs. ctxbudget sends ``"reserved"`` (tokens a guard held), ``"committed"`` (the
    :class:`~ctxbudget.BudgetEvent` of a commit or record) and ``"refused"`` (the scope whose
    cap refused a reservation)."""
    trace = _current.get()
    if trace is not None:
        trace.note(key, value)


def stage(name: str) -> Callable[[F], F]:
    """Decorator: stage ``name`` of the traced call begins when the decorated function is
    called (a method called once per traced call, like a pipeline step)."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def marked(*args: Any, **kwargs: Any) -> Any:
            trace = _current.get()
            if trace is not None:
                trace.stage(name, time.perf_counter_ns())
            return fn(*args, **kwargs)

        return cast(F, marked)

    return decorate


def traced(name: str) -> Callable[[F], F]:
    """Decorator: with a tracer installed, run each call of the function (sync or async)
    inside ``tracer.trace(name, arguments)``, as the current trace of its thread or task."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        def arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:
                return None  # the call itself raises the right error
            bound.apply_defaults()
            return dict(bound.arguments)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def traced_async(*args: Any, **kwargs: Any) -> Any:
                tracer = _tracer
                bound = None if tracer is None else arguments(args, kwargs)
                if tracer is None or bound is None:
                    return await fn(*args, **kwargs)
                with tracer.trace(name, bound) as trace:
                    token = _current.set(trace)
                    try:
                        result = await fn(*args, **kwargs)
                    finally:
                        _current.reset(token)
                    trace.finish(result)
                    return result

            return cast(F, traced_async)

        @functools.wraps(fn)
        def traced_sync(*args: Any, **kwargs: Any) -> Any:
            tracer = _tracer
            bound = None if tracer is None else arguments(args, kwargs)
            if tracer is None or bound is None:
                return fn(*args, **kwargs)
            with tracer.trace(name, bound) as trace:
                token = _current.set(trace)
                try:
                    result = fn(*args, **kwargs)
                finally:
                    _current.reset(token)
                trace.finish(result)
                return result

        return cast(F, traced_sync)

    return decorate
