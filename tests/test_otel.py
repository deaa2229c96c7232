"""OpenTelemetry: the budget's metrics and the build/guard spans, read back through the SDK's
in-memory metric reader and span exporter (offline), and `import ctxbudget` without it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from ctxbudget import (
    BudgetExhausted,
    ContextBuilder,
    RequiredSectionsExceedCap,
    Section,
    SessionBudget,
    build_context,
    guard,
)
from ctxbudget.integrations.otel import instrument
from ctxbudget.session import aguard

PRICES = {"m-1": (1.0, 2.0)}  # USD per 1M input / output tokens


class Telemetry:
    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.meters = MeterProvider(metric_readers=[self.reader])
        self.exporter = InMemorySpanExporter()
        self.tracers = TracerProvider()
        self.tracers.add_span_processor(SimpleSpanProcessor(self.exporter))

    def points(self, name: str) -> list[Any]:
        """The data points of metric ``name`` in one collection."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found += list(metric.data.data_points)
        return found

    def sums(self, name: str) -> dict[frozenset[tuple[str, Any]], float]:
        """Attributes -> sum (counters, histograms) or value (gauges) of metric ``name``."""
        return {
            frozenset(p.attributes.items()): getattr(p, "sum", getattr(p, "value", None))
            for p in self.points(name)
        }

    def spans(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name == name]


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    telemetry = Telemetry()
    yield telemetry
    telemetry.meters.shutdown()
    telemetry.tracers.shutdown()


@pytest.fixture
def budget(otel: Telemetry) -> Iterator[SessionBudget]:
    spend = SessionBudget("memory://", session_cap=1000, prices=PRICES, lease_s=30)
    with instrument(spend, meter_provider=otel.meters, tracer_provider=otel.tracers):
        yield spend
    spend.close()


def attrs(values: dict[str, Any]) -> frozenset[tuple[str, Any]]:
    """The key of a data point by its attributes."""
    return frozenset(values.items())


# -- import -------------------------------------------------------------------------------------


def test_import_ctxbudget_and_a_build_and_a_guard_import_no_opentelemetry() -> None:
    """Tracing hooks are in the code path, yet nothing imports opentelemetry until instrument."""
    script = (
        "import sys\n"
        "from ctxbudget import SessionBudget, build_context, guard\n"
        "build_context({'facts': 'x'}, max_tokens=50)\n"
        "b = SessionBudget('memory://')\n"
        "guard(b, lambda: None, prompt='hi', max_output_tokens=5, session='s')\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


# -- metrics --------------------------------------------------------------------------------------


def test_token_usage_histogram_follows_the_genai_conventions(
    otel: Telemetry, budget: SessionBudget
) -> None:
    """Each commit records its input and output tokens apart, with the model and system."""
    with budget.reserve(300, session="s1") as r:
        r.commit(120, 80, "gpt-4o")
    with budget.reserve(300, session="s1") as r:
        r.commit(30, 5, "gpt-4o")
    with budget.reserve(100, session="s2") as r:
        r.commit(7, 3)  # no model
    points = {frozenset(p.attributes.items()): p for p in otel.points("gen_ai.client.token.usage")}
    common = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}
    gpt_in = points[
        frozenset({**common, "gen_ai.system": "openai", "gen_ai.token.type": "input"}.items())
    ]
    gpt_out = points[
        frozenset({**common, "gen_ai.system": "openai", "gen_ai.token.type": "output"}.items())
    ]
    assert (gpt_in.count, gpt_in.sum, gpt_in.min, gpt_in.max) == (2, 150, 30, 120)
    assert (gpt_out.count, gpt_out.sum) == (2, 85)
    bare_in = points[attrs({"gen_ai.operation.name": "chat", "gen_ai.token.type": "input"})]
    assert (bare_in.count, bare_in.sum) == (1, 7)
    assert len(points) == 4
    assert gpt_in.explicit_bounds[:4] == (1, 4, 16, 64)


def test_tokens_used_is_input_plus_output_per_commit_and_record(
    otel: Telemetry, budget: SessionBudget
) -> None:
    """ctxbudget.session.tokens_used sums each commit's input and output tokens."""
    with budget.reserve(300, session="s1") as r:
        r.commit(120, 80, "m-1")
    with budget.reserve(300, session="s1") as r:
        r.commit(10, 0, "m-1")
    (point,) = otel.points("ctxbudget.session.tokens_used")
    assert dict(point.attributes) == {"gen_ai.request.model": "m-1"}
    assert (point.count, point.sum) == (2, 210)


def test_fill_ratio_per_capped_scope_committed_to_since_the_last_collection(
    otel: Telemetry,
) -> None:
    """The gauge reads used / cap of each capped scope touched since the previous collection."""
    spend = SessionBudget("memory://", session_cap=1000, user_cap=4000)
    with instrument(spend, meter_provider=otel.meters, tracing=False):
        with spend.reserve(300, session="s1", user="u1") as r:
            r.commit(150, 50)
        with spend.reserve(300, session="s2", user="u1") as r:
            r.commit(100, 0)
        assert otel.sums("ctxbudget.session.fill_ratio") == {
            attrs({"ctxbudget.scope": "session:s1", "ctxbudget.scope.kind": "session"}): 0.2,
            attrs({"ctxbudget.scope": "session:s2", "ctxbudget.scope.kind": "session"}): 0.1,
            attrs({"ctxbudget.scope": "user:u1", "ctxbudget.scope.kind": "user"}): 300 / 4000,
        }
        assert otel.sums("ctxbudget.session.fill_ratio") == {}  # nothing committed since
        with spend.reserve(300, session="s1") as r:
            r.commit(300, 0)
        assert otel.sums("ctxbudget.session.fill_ratio") == {
            attrs({"ctxbudget.scope": "session:s1", "ctxbudget.scope.kind": "session"}): 0.5,
        }
    spend.close()


def test_soft_warning_and_exhaustion_counters_fire_when_the_cap_is_reached(
    otel: Telemetry, budget: SessionBudget
) -> None:
    """Crossing 80% of the session cap counts one soft warning; reaching the cap one
    exhaustion; a refused reservation adds no second exhaustion of the same scope."""
    with budget.reserve(900, session="s1") as r:
        r.commit(850, 0)
    session = attrs({"ctxbudget.scope.kind": "session"})
    assert otel.sums("ctxbudget.session.soft_warnings") == {session: 1}
    assert otel.sums("ctxbudget.session.exhaustions") == {}
    with budget.reserve(150, session="s1") as r:
        r.commit(150, 0)
    assert otel.sums("ctxbudget.session.exhaustions") == {session: 1}
    with pytest.raises(BudgetExhausted):
        budget.reserve(10, session="s1")
    assert otel.sums("ctxbudget.session.exhaustions") == {session: 1}
    assert otel.sums("ctxbudget.session.soft_warnings") == {session: 1}


def test_overspend_counters_count_the_steps_and_the_tokens_past_the_cap(
    otel: Telemetry, budget: SessionBudget
) -> None:
    """A commit of more than was reserved that passes the cap is one overspend of its
    excess tokens, with its cause."""
    with budget.reserve(900, session="s1") as r:
        r.commit(900, 0)
    with budget.reserve(100, session="s1") as r:
        r.commit(100, 150)  # 1,150 used of 1,000
    key = attrs(
        {"ctxbudget.scope.kind": "session", "ctxbudget.overspend.cause": "over_reservation"}
    )
    assert otel.sums("ctxbudget.session.overspends") == {key: 1}
    assert otel.sums("ctxbudget.session.overspent_tokens") == {key: 150}


def test_expired_reservation_counter_fires_when_a_short_lease_is_reclaimed(
    otel: Telemetry,
) -> None:
    """A manual lease of 50 ms that nobody renews expires; reaping it counts one."""
    spend = SessionBudget("memory://", session_cap=1000, lease_s=0.05)
    with instrument(spend, meter_provider=otel.meters, tracing=False):
        held = spend.reserve(200, session="s1", heartbeat=False)
        time.sleep(0.15)
        assert spend.reap() == 1
        assert otel.sums("ctxbudget.session.reservations_expired") == {
            attrs({"ctxbudget.scope.kind": "session"}): 1
        }
        assert held.state == "active"
    spend.close()


def test_two_budgets_on_one_meter_provider_share_the_instruments(otel: Telemetry) -> None:
    """Instrumenting a second budget adds to the same metric streams."""
    first, second = SessionBudget("memory://"), SessionBudget("memory://")
    with (
        instrument(first, meter_provider=otel.meters, tracing=False),
        instrument(second, meter_provider=otel.meters, tracing=False),
    ):
        with first.reserve(50, session="a") as r:
            r.commit(10, 1)
        with second.reserve(50, session="b") as r:
            r.commit(20, 2)
        (point,) = otel.points("ctxbudget.session.tokens_used")
        assert (point.count, point.sum) == (2, 33)
    first.close()
    second.close()


def test_close_stops_recording_and_tracing(otel: Telemetry) -> None:
    """After close(), commits add nothing and builds open no span."""
    spend = SessionBudget("memory://")
    telemetry = instrument(spend, meter_provider=otel.meters, tracer_provider=otel.tracers)
    with spend.reserve(50, session="s") as r:
        r.commit(10, 2)
    telemetry.close()
    with spend.reserve(50, session="s") as r:
        r.commit(30, 3)
    build_context({"facts": "x"}, max_tokens=20)
    (point,) = otel.points("ctxbudget.session.tokens_used")
    assert point.sum == 12
    assert otel.exporter.get_finished_spans() == ()
    spend.close()


# -- spans ----------------------------------------------------------------------------------------


def test_build_span_carries_the_cap_tokens_sections_and_stage_durations(
    otel: Telemetry, budget: SessionBudget
) -> None:
    """A trimmed build: its span names the trimmed and dropped sections, and the three stage
    durations add up to no more than the span."""
    facts = "\n".join(f"fact {i} is a longer line of text" for i in range(200))
    result = build_context(
        {"facts": facts, "notes": ["kept note"]}, max_tokens=60, tokenizer="o200k_base"
    )
    (span,) = otel.spans("ctxbudget.build_context")
    a = span.attributes or {}
    assert a["ctxbudget.build.max_tokens"] == 60
    assert a["ctxbudget.build.tokens"] == result.tokens <= 60
    assert a["ctxbudget.build.fill_ratio"] == result.tokens / 60
    assert a["ctxbudget.build.tokenizer"] == "o200k_base"
    assert a["ctxbudget.build.section_count"] == 2
    assert a["ctxbudget.build.trimmed_sections"] == ("facts",)
    assert a["ctxbudget.build.dropped_sections"] == ()
    stages = [a[f"ctxbudget.build.{s}.duration"] for s in ("gather", "measure", "fit")]
    assert all(d > 0 for d in stages)
    assert span.end_time is not None
    assert span.start_time is not None
    assert sum(stages) <= (span.end_time - span.start_time) / 1e9
    assert span.status.status_code == StatusCode.UNSET


def test_abuild_and_a_failing_build_are_traced(otel: Telemetry, budget: SessionBudget) -> None:
    """abuild opens the same span; a build that raises records the error."""
    builder = ContextBuilder()
    asyncio.run(builder.abuild({"facts": "x"}, max_tokens=30))
    big = Section(name="big", content="word " * 500, required=True)
    with pytest.raises(RequiredSectionsExceedCap):
        builder.build([big], max_tokens=20)
    ok, failed = otel.spans("ctxbudget.build_context")
    assert (ok.attributes or {})["ctxbudget.build.tokens"] > 0
    assert failed.status.status_code == StatusCode.ERROR
    assert (failed.attributes or {})["error.type"] == "RequiredSectionsExceedCap"
    assert "ctxbudget.build.tokens" not in (failed.attributes or {})


def _reply(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {"usage": {"prompt_tokens": input_tokens, "completion_tokens": output_tokens}}


def test_guard_span_reports_the_hold_the_usage_and_the_outcome(
    otel: Telemetry, budget: SessionBudget
) -> None:
    """A guarded call: session, reserved tokens, committed usage, cost and outcome."""
    guard(
        budget,
        lambda: _reply(40, 12),
        prompt="hello there",
        max_output_tokens=100,
        session="s1",
        model="m-1",
    )
    (span,) = otel.spans("ctxbudget.guard")
    a = span.attributes or {}
    prompt_tokens = budget.tokenizer.count("hello there")
    assert a["ctxbudget.session"] == "s1"
    assert a["ctxbudget.guard.max_output_tokens"] == 100
    assert a["ctxbudget.guard.reserved_tokens"] > 100 + prompt_tokens - 1
    assert (a["ctxbudget.guard.input_tokens"], a["ctxbudget.guard.output_tokens"]) == (40, 12)
    assert a["ctxbudget.guard.model"] == "m-1"
    assert a["ctxbudget.guard.cost_usd"] == pytest.approx(40 * 1e-6 + 12 * 2e-6)
    assert a["ctxbudget.guard.outcome"] == "committed"


def test_guard_span_outcomes_when_refused_or_failing(
    otel: Telemetry, budget: SessionBudget
) -> None:
    """Refused with a fallback, refused without, and a call that raises."""
    too_big = {"prompt": "hi", "max_output_tokens": 5000, "session": "s1"}
    assert guard(budget, lambda: _reply(1, 1), fallback=lambda exc: "cached", **too_big) == "cached"
    with pytest.raises(BudgetExhausted):
        guard(budget, lambda: _reply(1, 1), **too_big)

    def broken() -> Any:
        raise TimeoutError("provider timed out")

    with pytest.raises(TimeoutError):
        guard(budget, broken, prompt="hi", max_output_tokens=10, session="s1")
    fallback, exhausted, error = otel.spans("ctxbudget.guard")
    assert (fallback.attributes or {})["ctxbudget.guard.outcome"] == "fallback"
    assert (fallback.attributes or {})["ctxbudget.guard.refused_scope"] == "session:s1"
    assert fallback.status.status_code == StatusCode.UNSET
    assert (exhausted.attributes or {})["ctxbudget.guard.outcome"] == "exhausted"
    assert exhausted.status.status_code == StatusCode.ERROR
    e = error.attributes or {}
    assert (e["ctxbudget.guard.outcome"], e["error.type"]) == ("error", "TimeoutError")
    assert e["ctxbudget.guard.output_tokens"] == 0  # billed the prompt estimate as input
    assert e["ctxbudget.guard.input_tokens"] == budget.status("s1").input_tokens


def test_aguard_span_is_current_while_the_call_runs(otel: Telemetry, budget: SessionBudget) -> None:
    """The call made inside aguard sees the guard span as its parent."""
    from opentelemetry import trace

    tracer = otel.tracers.get_tracer("test")

    async def call() -> dict[str, Any]:
        with tracer.start_as_current_span("llm.call"):
            await asyncio.sleep(0)
        return _reply(9, 4)

    asyncio.run(aguard(budget, call, prompt="hi", max_output_tokens=10, session="s9"))
    (span,) = otel.spans("ctxbudget.guard")
    (child,) = otel.spans("llm.call")
    assert child.parent is not None
    assert child.parent.span_id == span.context.span_id
    assert (span.attributes or {})["ctxbudget.guard.input_tokens"] == 9
    assert trace.get_current_span() is trace.INVALID_SPAN
