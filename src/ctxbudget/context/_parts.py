"""One section as the pipeline sees it, and the report it becomes."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..memory import Reducer, Reduction
from ._measure import Cut, MeasuredSection
from ._rendering import SectionView
from ._result import SectionReport, Status

__all__ = ["Part", "report"]


@dataclass
class Part:
    """One section during a build: its resolved options, measurement and decisions.

    Token fields are in tokens of the build's tokenizer: ``header`` is what the template adds
    around the section, ``allocated`` its share of the cap (header included), ``kept`` the
    items kept from the kept end, ``cut`` the one item cut at token level, if any.
    """

    name: str
    title: str
    weight: float
    required: bool
    min_tokens: int | None
    max_tokens: int | None
    measured: MeasuredSection | None = None  # None: its store failed
    error: str | None = None
    header: int = 0
    allocated: int = 0
    kept: int = 0
    cut: Cut | None = None
    reducers: list[tuple[str, Reducer]] = field(default_factory=list)
    reductions: list[Reduction] = field(default_factory=list)

    @property
    def m(self) -> MeasuredSection:
        """The measurement of a section whose store did not fail."""
        assert self.measured is not None
        return self.measured

    @property
    def used(self) -> int:
        """Tokens of the kept header and items, as measured piece by piece."""
        if self.cut is not None:
            return self.header + self.cut.tokens
        if self.kept == 0 or self.measured is None:
            return 0
        return self.header + self.measured.cumulative[self.kept]

    def view(self, marker: str) -> SectionView:
        """What the template sees of this section, with ``marker`` on a cut item."""
        return SectionView(
            name=self.name,
            title=self.title,
            body=self.m.body(self.kept, self.cut, marker),
            weight=self.weight,
            required=self.required,
        )


def report(p: Part) -> SectionReport:
    """The :class:`~ctxbudget.SectionReport` of a part after the build."""
    m = p.measured
    if m is None:
        return SectionReport(
            name=p.name,
            title=p.title,
            priority=p.weight,
            required=p.required,
            status="failed",
            tokens_demanded=0,
            demand_exact=False,
            tokens_allocated=0,
            tokens_used=0,
            items_kept=0,
            error=p.error,
        )
    kept = 1 if p.cut is not None else p.kept
    everything = m.complete and p.cut is None and p.kept == m.measured
    status: Status
    if everything:
        status = "full"
    elif kept == 0:
        status = "dropped"
    else:
        status = "trimmed"
    return SectionReport(
        name=p.name,
        title=p.title,
        priority=p.weight,
        required=p.required,
        status=status,
        tokens_demanded=(p.header + m.total) if m.measured else 0,
        demand_exact=m.complete and m.exact,
        tokens_allocated=p.allocated,
        tokens_used=p.used,
        items_kept=kept,
        cut=p.cut,
        measured=m,
        reductions=p.reductions,
    )
