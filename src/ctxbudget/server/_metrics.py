"""``GET /metrics``: Prometheus text exposition through ``prometheus-client``, one registry per
application (nothing lands in the process-wide default registry).

Series (tokens in tokens):
    ``ctxbudget_http_requests_total{method, route, status}``: answers given.
    ``ctxbudget_reservations_total{outcome}``: ``reserved`` or the refusal's error code.
    ``ctxbudget_reserved_tokens_total``: tokens held by reservations made here.
    ``ctxbudget_committed_tokens_total{type}``: ``input`` / ``output`` tokens committed here.
    ``ctxbudget_open_reservations``: reservations this server holds now.
    ``ctxbudget_session_tokens_used{session}``, ``ctxbudget_session_tokens_reserved{session}``,
    ``ctxbudget_session_token_cap{session}``: read from the ledger at scrape time, for the
    first 1000 sessions by id.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge
from prometheus_client import generate_latest as render_registry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ..session import SessionBudget
from ._holds import Holds

__all__ = ["Metrics"]

#: Sessions read from the ledger on each scrape, at most.
SCRAPE_SESSIONS = 1000


class _Sessions(Collector):
    """Per-session gauges read from the ledger when scraped."""

    def __init__(self, budget: SessionBudget) -> None:
        self.budget = budget

    def collect(self) -> Iterator[GaugeMetricFamily]:
        used = GaugeMetricFamily(
            "ctxbudget_session_tokens_used", "Tokens committed in the session", labels=["session"]
        )
        held = GaugeMetricFamily(
            "ctxbudget_session_tokens_reserved",
            "Tokens held by open reservations in the session",
            labels=["session"],
        )
        cap = GaugeMetricFamily(
            "ctxbudget_session_token_cap", "The session's cap in tokens", labels=["session"]
        )
        for session in self.budget.sessions()[:SCRAPE_SESSIONS]:
            status = self.budget.status(session)
            used.add_metric([session], status.used)
            held.add_metric([session], status.reserved)
            if status.cap is not None:
                cap.add_metric([session], status.cap)
        yield from (used, held, cap)


class Metrics:
    """The service's metrics, in their own registry."""

    def __init__(self, budget: SessionBudget, holds: Holds) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "ctxbudget_http_requests", "HTTP answers", ["method", "route", "status"], registry=r
        )
        self._reservations = Counter(
            "ctxbudget_reservations", "Reservations asked for", ["outcome"], registry=r
        )
        self._reserved = Counter(
            "ctxbudget_reserved_tokens", "Tokens held by reservations", registry=r
        )
        self._committed = Counter(
            "ctxbudget_committed_tokens", "Tokens committed", ["type"], registry=r
        )
        open_gauge = Gauge(
            "ctxbudget_open_reservations", "Reservations held by this server", registry=r
        )
        open_gauge.set_function(holds.open_count)
        r.register(_Sessions(budget))

    def request(self, method: str, route: str, status: int) -> None:
        """Count one answer."""
        self._requests.labels(method, route, str(status)).inc()

    def reserved(self, tokens: int) -> None:
        """Count a reservation made."""
        self._reservations.labels("reserved").inc()
        self._reserved.inc(tokens)

    def refused(self, code: str) -> None:
        """Count a reservation refused (``code``: the answer's error code)."""
        self._reservations.labels(code).inc()

    def committed(self, input_tokens: int, output_tokens: int) -> None:
        """Count a commit's tokens."""
        self._committed.labels("input").inc(input_tokens)
        self._committed.labels("output").inc(output_tokens)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return render_registry(self.registry), CONTENT_TYPE_LATEST
