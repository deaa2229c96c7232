"""OpenTelemetry metrics and traces for ctxbudget (``pip install 'ctxbudget[otel]'``).

:func:`instrument` records a :class:`~ctxbudget.SessionBudget`'s spend as metrics (the GenAI
semantic conventions' ``gen_ai.client.token.usage`` histogram among them) and traces every
``build_context`` / ``ContextBuilder.build`` and every ``guard`` / ``aguard`` as a span. It
uses only the OpenTelemetry *API*: the SDK and exporters are the application's choice, through
the providers it passes or the global ones. ``import ctxbudget`` never imports OpenTelemetry.

>>> from ctxbudget import SessionBudget  # doctest: +SKIP
>>> budget = SessionBudget("sqlite:///spend.db", session_cap=50_000)  # doctest: +SKIP
>>> telemetry = instrument(budget)  # doctest: +SKIP

Metrics (meter ``ctxbudget``; "kind" is ``ctxbudget.scope.kind``, the kind of the scope:
``session``, ``user``, ``quota`` (a user's period quota), ``conversation``, ``global``, ``rate``):

- ``gen_ai.client.token.usage``: histogram, ``{token}``, the GenAI conventions' buckets;
  ``gen_ai.token.type`` (``input`` / ``output``), ``gen_ai.operation.name``, and
  ``gen_ai.request.model`` and ``gen_ai.system`` where known.
- ``ctxbudget.session.tokens_used``: histogram, ``{token}``, input + output per commit or
  record; ``gen_ai.request.model`` where known.
- ``ctxbudget.session.fill_ratio``: gauge, ``1``, committed tokens over the cap;
  ``ctxbudget.scope`` (the scope's name) and kind.
- ``ctxbudget.session.soft_warnings`` (``{warning}``), ``.exhaustions`` (``{exhaustion}``),
  ``.reservations_expired`` (``{reservation}``): counters; kind.
- ``ctxbudget.session.overspends`` (``{overspend}``) and ``.overspent_tokens``
  (``{token}``): counters; kind and ``ctxbudget.overspend.cause``.

Spans (tracer ``ctxbudget``, kind ``INTERNAL``; a raised error sets the status, records the
exception and ``error.type``): ``ctxbudget.build_context`` and ``ctxbudget.guard``, with the
attributes listed in :func:`instrument`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .. import _telemetry
from .._errors import CtxBudgetError, LedgerError
from .._version import __version__

try:
    from opentelemetry import metrics
    from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
    from opentelemetry.trace import TracerProvider
except ImportError as exc:  # pragma: no cover - exercised where opentelemetry-api is absent
    raise CtxBudgetError(
        "the OpenTelemetry integration needs opentelemetry-api: pip install 'ctxbudget[otel]'"
    ) from exc

from ._otel_traces import SpanTracer

if TYPE_CHECKING:
    from ..session import BudgetEvent, SessionBudget

__all__ = ["TOKEN_BUCKETS", "Instrumentation", "instrument"]

#: Histogram buckets, in tokens, that the GenAI semantic conventions give for token usage.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864)  # fmt: skip

#: The catalogue's provider names that the GenAI conventions spell otherwise (``gen_ai.system``).
_SYSTEMS = {"google": "gcp.gemini", "mistral": "mistral_ai"}


def scope_kind(scope: str) -> str:
    """The kind of a scope name: ``"session"``, ``"user"``, ``"quota"`` (a user's period
    quota, ``user:<id>@day:...``), ``"conversation"``, ``"global"`` or ``"rate"``."""
    kind = scope.partition(":")[0]
    return "quota" if kind == "user" and "@" in scope else kind


class _Metrics:
    """The instruments of one meter provider, shared by every budget instrumented with it."""

    def __init__(self, provider: MeterProvider | None) -> None:
        meter = metrics.get_meter("ctxbudget", __version__, provider)
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Measures number of input and output tokens used",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.tokens_used = meter.create_histogram(
            "ctxbudget.session.tokens_used",
            unit="{token}",
            description="Tokens committed or recorded per call (input + output)",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.soft_warnings = meter.create_counter(
            "ctxbudget.session.soft_warnings",
            unit="{warning}",
            description="Scopes that crossed their soft-warn share of the cap",
        )
        self.exhaustions = meter.create_counter(
            "ctxbudget.session.exhaustions",
            unit="{exhaustion}",
            description="Scopes that reached their cap",
        )
        self.overspends = meter.create_counter(
            "ctxbudget.session.overspends",
            unit="{overspend}",
            description="Commits and records that pushed a scope past its cap",
        )
        self.overspent_tokens = meter.create_counter(
            "ctxbudget.session.overspent_tokens",
            unit="{token}",
            description="Tokens put beyond a cap by commits and records",
        )
        self.expired = meter.create_counter(
            "ctxbudget.session.reservations_expired",
            unit="{reservation}",
            description="Reservations whose lease ran out and whose tokens were reclaimed",
        )
        self.watches: list[_Watch] = []
        self.lock = threading.Lock()
        meter.create_observable_gauge(
            "ctxbudget.session.fill_ratio",
            callbacks=[self._fills],
            unit="1",
            description="Committed tokens over the cap, per scope committed to since the "
            "previous collection",
        )

    def _fills(self, options: CallbackOptions) -> Iterable[Observation]:
        with self.lock:
            watches = list(self.watches)
        for watch in watches:
            yield from watch.fills()


_METERS: dict[int, tuple[object, _Metrics]] = {}
_METERS_LOCK = threading.Lock()


def _metrics_for(provider: MeterProvider | None) -> _Metrics:
    """One :class:`_Metrics` per provider (the global one for ``None``), so instruments are
    created once however many budgets are instrumented."""
    key = provider if provider is not None else metrics.get_meter_provider()
    with _METERS_LOCK:
        found = _METERS.get(id(key))
        if found is None or found[0] is not key:
            found = _METERS[id(key)] = (key, _Metrics(provider))
        return found[1]


class _Watch:
    """One budget's events turned into metrics."""

    def __init__(
        self, budget: SessionBudget, meters: _Metrics, operation: str, max_scopes: int
    ) -> None:
        self.budget = budget
        self.meters = meters
        self.operation = operation
        self.max_scopes = max_scopes
        self.active = True
        self._touched: dict[str, None] = {}  # ordered set: scopes committed to since collection
        self._systems: dict[str, str | None] = {}
        self._lock = threading.Lock()
        handlers: dict[str, Callable[[BudgetEvent], None]] = {
            "committed": self.committed,
            "soft_warned": self.counted(meters.soft_warnings),
            "exhausted": self.counted(meters.exhaustions),
            "overspent": self.overspent,
            "reservation_expired": self.counted(meters.expired),
        }
        for name, handler in handlers.items():
            budget.on(name, self.guarded(handler))  # type: ignore[arg-type]

    def guarded(self, handler: Callable[[BudgetEvent], None]) -> Callable[[BudgetEvent], None]:
        def run(event: BudgetEvent) -> None:
            if self.active:
                handler(event)

        return run

    def system(self, model: str) -> str | None:
        """``gen_ai.system`` of ``model``: its provider in the budget's catalogue, or ``None``."""
        if model not in self._systems:
            info = self.budget.catalogue.find(model)
            provider = info.provider if info is not None else None
            self._systems[model] = _SYSTEMS.get(provider, provider) if provider else None
        return self._systems[model]

    def committed(self, event: BudgetEvent) -> None:
        detail = event.detail or {}
        model = detail.get("model")
        attributes: dict[str, str] = {"gen_ai.operation.name": self.operation}
        if model:
            attributes["gen_ai.request.model"] = model
            if (system := self.system(model)) is not None:
                attributes["gen_ai.system"] = system
        for kind in ("input", "output"):
            tokens = detail.get(f"{kind}_tokens", 0)
            self.meters.token_usage.record(tokens, {**attributes, "gen_ai.token.type": kind})
        used = {"gen_ai.request.model": model} if model else {}
        self.meters.tokens_used.record(event.tokens or 0, used)
        with self._lock:
            for scope in detail.get("scopes", ()):
                if scope_kind(scope) != "rate":  # a new scope name each minute
                    self._touched.pop(scope, None)
                    self._touched[scope] = None
            while len(self._touched) > self.max_scopes:
                del self._touched[next(iter(self._touched))]

    def counted(self, counter: Any) -> Callable[[BudgetEvent], None]:
        def add(event: BudgetEvent) -> None:
            if event.scope is not None:
                counter.add(1, {"ctxbudget.scope.kind": scope_kind(event.scope)})

        return add

    def overspent(self, event: BudgetEvent) -> None:
        if event.scope is None:
            return
        cause = (event.detail or {}).get("cause", "unknown")
        attributes = {
            "ctxbudget.scope.kind": scope_kind(event.scope),
            "ctxbudget.overspend.cause": cause,
        }
        self.meters.overspends.add(1, attributes)
        self.meters.overspent_tokens.add(event.tokens or 0, attributes)

    def fills(self) -> Iterator[Observation]:
        """``used / cap`` of each capped scope committed to since the previous collection."""
        with self._lock:
            scopes, self._touched = list(self._touched), {}
        if not self.active:
            return
        for scope in scopes:
            try:
                status = self.budget.status(scope=scope)
            except LedgerError:
                continue  # the next commit to the scope reports it again
            if status.cap:
                yield Observation(
                    status.used / status.cap,
                    {"ctxbudget.scope": scope, "ctxbudget.scope.kind": scope_kind(scope)},
                )


class Instrumentation:
    """What :func:`instrument` turned on; :meth:`close` turns it off (also as a context
    manager's exit). Metrics already recorded stay with the meter provider."""

    def __init__(self, watch: _Watch | None, tracer: SpanTracer | None) -> None:
        self._watch = watch
        self._tracer = tracer

    def close(self) -> None:
        """Stop recording this budget's events and, if this call installed the tracer still
        in place, stop tracing."""
        if self._watch is not None:
            self._watch.active = False
            meters = self._watch.meters
            with meters.lock:
                if self._watch in meters.watches:
                    meters.watches.remove(self._watch)
        if self._tracer is not None:
            previous = _telemetry.install(None)
            if previous is not self._tracer:
                _telemetry.install(previous)  # another instrument() call's tracer: keep it

    def __enter__(self) -> Instrumentation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def instrument(
    budget: SessionBudget | None = None,
    *,
    meter_provider: MeterProvider | None = None,
    tracer_provider: TracerProvider | None = None,
    tracing: bool = True,
    operation: str = "chat",
    max_scopes: int = 1000,
) -> Instrumentation:
    """Record ``budget``'s spend as OpenTelemetry metrics, and trace builds and guards.

    Metrics come from the budget's events (see the module docs for names, units and
    attributes): each ``committed`` event records ``gen_ai.client.token.usage`` twice (its
    input and output tokens) and ``ctxbudget.session.tokens_used`` once (their sum);
    ``soft_warned``, ``exhausted``, ``overspent`` and ``reservation_expired`` add to their
    counters. ``ctxbudget.session.fill_ratio`` is observed at each collection, from one
    ledger read per capped scope committed to since the previous collection (at most
    ``max_scopes``; rate-limit windows left out), so an idle scope stops reporting.

    Tracing (process-wide, every builder and budget) opens, as the current span:

    - ``ctxbudget.build_context`` around ``build_context``, ``ContextBuilder.build`` and
      ``abuild``: ``ctxbudget.build.tokens``, ``.max_tokens`` and ``.fill_ratio`` (when
      capped), ``.tokenizer``, ``.approximate``, ``.section_count``, ``.trimmed_sections``,
      ``.dropped_sections`` and ``.failed_sections`` (names), and each stage's duration in
      seconds: ``ctxbudget.build.gather.duration`` (stores fetched),
      ``.measure.duration`` (items counted), ``.fit.duration`` (allocate, reduce, trim,
      render, verify).
    - ``ctxbudget.guard`` around ``guard`` and ``aguard``: ``ctxbudget.session``,
      ``ctxbudget.guard.max_output_tokens``, ``.reserved_tokens``, ``.input_tokens``,
      ``.output_tokens``, ``.cached_input_tokens`` (as committed), ``.model``, ``.cost_usd``
      (when known), ``.refused_scope`` and ``.outcome``: ``"committed"``, ``"fallback"``
      (refused, the fallback answered), ``"exhausted"`` (refused, raised) or ``"error"``
      (the call raised; it was settled by ``bill_on_error``). They are not ``gen_ai.usage.*``:
      the LLM client's own span carries those, and GenAI backends would count them twice.

    Args:
        budget: the :class:`~ctxbudget.SessionBudget` whose events to record, or ``None``
            for tracing only. Call once per budget.
        meter_provider: default the global one (``opentelemetry.metrics``).
        tracer_provider: default the global one (``opentelemetry.trace``).
        tracing: ``False`` to leave tracing as it is.
        operation: ``gen_ai.operation.name`` of the token histogram (the calls the budget
            pays for: ``"chat"``, ``"text_completion"``, ``"embeddings"``...).
        max_scopes: most scopes whose fill ratio one collection reads.

    Returns:
        An :class:`Instrumentation`; ``close()`` turns this off.

    Raises:
        ConfigurationError: ``max_scopes`` is not a whole number >= 1.
        CtxBudgetError: at import, when opentelemetry-api is not installed (``pip install
            'ctxbudget[otel]'``).
    """
    from .._validate import whole_number

    max_scopes = whole_number(max_scopes, "max_scopes", minimum=1)
    watch = None
    if budget is not None:
        meters = _metrics_for(meter_provider)
        watch = _Watch(budget, meters, operation, max_scopes)
        with meters.lock:
            meters.watches.append(watch)
    tracer = None
    if tracing:
        tracer = SpanTracer(tracer_provider)
        _telemetry.install(tracer)
    return Instrumentation(watch, tracer)
