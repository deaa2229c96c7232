"""OpenTelemetry spans of builds and guards: the :class:`ctxbudget._telemetry.Tracer` that
:func:`ctxbudget.integrations.otel.instrument` installs (its docstring lists the attributes)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, TracerProvider

from .._errors import BudgetExhausted
from .._version import __version__

if TYPE_CHECKING:
    from ..context import BuiltContext

__all__ = ["SpanTracer"]


class _BuildTrace:
    """A ``ctxbudget.build_context`` span: the result's numbers and each stage's duration."""

    def __init__(self, span: Span) -> None:
        self.span = span
        self.stages: list[tuple[str, int]] = [("gather", time.perf_counter_ns())]

    def stage(self, name: str, started_ns: int) -> None:
        self.stages.append((name, started_ns))

    def note(self, key: str, value: object) -> None:
        """Facts noted during a build are not this span's: a commit inside a build (a store
        that spends) belongs to its own ``ctxbudget.guard`` span, so nothing is recorded."""

    def finish(self, result: object) -> None:
        built: BuiltContext = result  # type: ignore[assignment]
        span = self.span
        span.set_attribute("ctxbudget.build.tokens", built.tokens)
        if built.max_tokens is not None:
            span.set_attribute("ctxbudget.build.max_tokens", built.max_tokens)
            if built.max_tokens:
                span.set_attribute("ctxbudget.build.fill_ratio", built.tokens / built.max_tokens)
        span.set_attribute("ctxbudget.build.tokenizer", built.tokenizer)
        span.set_attribute("ctxbudget.build.approximate", built.approximate)
        span.set_attribute("ctxbudget.build.section_count", len(built.sections))
        for status in ("trimmed", "dropped", "failed"):
            names = [s.name for s in built.sections if s.status == status]
            span.set_attribute(f"ctxbudget.build.{status}_sections", names)

    def failed(self, exc: BaseException) -> None:
        """Nothing beyond what the span records for every raised error (status, exception)."""

    def close(self) -> None:
        ends = [started for _, started in self.stages[1:]] + [time.perf_counter_ns()]
        for (name, started), ended in zip(self.stages, ends, strict=True):
            self.span.set_attribute(f"ctxbudget.build.{name}.duration", (ended - started) / 1e9)


class _GuardTrace:
    """A ``ctxbudget.guard`` span: the call's scopes, hold, usage and outcome."""

    def __init__(self, span: Span, arguments: Mapping[str, Any]) -> None:
        self.span = span
        self.refused: str | None = None
        span.set_attribute("ctxbudget.session", str(arguments.get("session")))
        span.set_attribute("ctxbudget.guard.max_output_tokens", arguments["max_output_tokens"])
        if arguments.get("model"):
            span.set_attribute("ctxbudget.guard.model", arguments["model"])

    def stage(self, name: str, started_ns: int) -> None:
        """A guard has no stages: its span covers the one call."""

    def note(self, key: str, value: object) -> None:
        span = self.span
        if key == "reserved":
            span.set_attribute("ctxbudget.guard.reserved_tokens", value)  # type: ignore[arg-type]
        elif key == "refused":
            self.refused = str(value)
            span.set_attribute("ctxbudget.guard.refused_scope", self.refused)
        elif key == "committed":
            detail = getattr(value, "detail", None) or {}
            for name in ("input_tokens", "output_tokens", "cached_input_tokens"):
                span.set_attribute(f"ctxbudget.guard.{name}", detail.get(name, 0))
            if detail.get("model"):
                span.set_attribute("ctxbudget.guard.model", detail["model"])
            if detail.get("cost") is not None:
                span.set_attribute("ctxbudget.guard.cost_usd", detail["cost"])

    def finish(self, result: object) -> None:
        outcome = "fallback" if self.refused is not None else "committed"
        self.span.set_attribute("ctxbudget.guard.outcome", outcome)

    def failed(self, exc: BaseException) -> None:
        exhausted = self.refused is not None and isinstance(exc, BudgetExhausted)
        self.span.set_attribute("ctxbudget.guard.outcome", "exhausted" if exhausted else "error")

    def close(self) -> None:
        """Nothing to release: the span is ended by the tracer that opened it."""


class SpanTracer:
    """The :class:`ctxbudget._telemetry.Tracer` that makes OpenTelemetry spans."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.tracer = trace.get_tracer("ctxbudget", __version__, provider)

    @contextmanager
    def trace(self, name: str, arguments: Mapping[str, Any]) -> Iterator[Any]:
        with self.tracer.start_as_current_span(name, kind=SpanKind.INTERNAL) as span:
            if name == "ctxbudget.guard":
                recorder: _BuildTrace | _GuardTrace = _GuardTrace(span, arguments)
            else:
                recorder = _BuildTrace(span)
            try:
                yield recorder
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                recorder.failed(exc)
                raise
            finally:
                recorder.close()
