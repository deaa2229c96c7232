"""Adaptive allocation: learn from builds which sections starve and which waste their share.

:class:`UsageTracker` records each section's utilization and exhaustion (it lost items) build
after build, and persists as JSON. Utilization is *true* utilization: tokens used over the
section's fair share at its priority weight (see :func:`fair_shares`), not over what the build
gave it, so a section that fits but needs far less than its share shows as under-used.
:func:`adjust_allocations` applies the Token Budget Management reference rule to percentage
shares: a section exhausted more than 3 times gains 5 points (capped at 50%); then,
independently, one under 50% average utilization loses 5 points (floored at 5%); then the
shares are renormalized to 100%.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from .._errors import ConfigurationError
from ..context._result import BuiltContext

__all__ = [
    "SectionUsage",
    "UsageTracker",
    "adjust_allocations",
    "adjusted_preset_yaml",
    "fair_shares",
    "utilization_band",
    "utilization_report",
]

EXHAUSTED_TIMES = 3  # more than this many exhaustions earn a section more share
STEP = 5.0  # percentage points moved at a time
CEILING = 50.0
FLOOR = 5.0
LOW_UTILIZATION = 0.5

Band = Literal["critical", "high", "moderate", "low"]


def utilization_band(utilization: float) -> Band:
    """``critical`` >= 90%, ``high`` >= 75%, ``moderate`` >= 50%, else ``low``."""
    if utilization >= 0.90:
        return "critical"
    if utilization >= 0.75:
        return "high"
    if utilization >= 0.50:
        return "moderate"
    return "low"


@dataclass
class SectionUsage:
    """One section's record across builds: builds seen, times exhausted, utilization sum."""

    builds: int = 0
    exhausted: int = 0
    utilization_sum: float = 0.0

    @property
    def average_utilization(self) -> float:
        """Mean of used/allocated over the builds seen (0.0 before any)."""
        return self.utilization_sum / self.builds if self.builds else 0.0


def _utilization(used: int, allocated: float) -> float:
    if allocated > 0:
        return min(1.0, used / allocated)
    return 1.0 if used > 0 else 0.0


def fair_shares(result: BuiltContext) -> dict[str, float]:
    """Each non-failed section's fair share of a build, in tokens (fractional).

    ``fair = available * priority / sum(priorities)`` over the build's non-failed sections
    (empty ones included: their weight claims a share they leave unused). ``available`` is
    the cap less the frame: ``max_tokens - max(0, tokens - sum(tokens_used))``, the frame being
    the template text, separators and any budget indicator (text tokens no section counts).
    With no cap, ``available = sum(tokens_used)``. All priorities zero share equally.
    """
    live = [r for r in result.sections if r.status != "failed"]
    used = sum(r.tokens_used for r in live)
    if result.max_tokens is None:
        available = used
    else:
        available = max(0, result.max_tokens - max(0, result.tokens - used))
    weight_sum = sum(r.priority for r in live)
    if weight_sum <= 0:
        return {r.name: available / len(live) for r in live}
    return {r.name: available * r.priority / weight_sum for r in live}


class UsageTracker:
    """Per-section utilization and exhaustion across builds.

    >>> tracker = UsageTracker()
    >>> tracker.observe("history", used=900, allocated=1000, exhausted=True)
    >>> tracker.sections["history"].exhausted
    1
    """

    def __init__(self) -> None:
        self.sections: dict[str, SectionUsage] = {}

    def observe(self, section: str, *, used: int, allocated: float, exhausted: bool) -> None:
        """Record one build of ``section`` (tokens ``used`` of ``allocated``; utilization is
        ``min(1, used / allocated)``, and 1 when a section with no allocation used tokens)."""
        usage = self.sections.setdefault(section, SectionUsage())
        usage.builds += 1
        usage.exhausted += int(bool(exhausted))
        usage.utilization_sum += _utilization(used, allocated)

    def record(self, result: BuiltContext) -> None:
        """Record every section of a build against its fair share (:func:`fair_shares`).

        Trimmed or dropped sections count as exhausted; failed sections are skipped.
        """
        shares = fair_shares(result)
        for report in result.sections:
            if report.status == "failed":
                continue
            self.observe(
                report.name,
                used=report.tokens_used,
                allocated=shares[report.name],
                exhausted=report.status in ("trimmed", "dropped"),
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {name: vars(u).copy() for name, u in self.sections.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> UsageTracker:
        """A tracker from :meth:`to_dict` data."""
        tracker = cls()
        for name, fields in data.items():
            tracker.sections[name] = SectionUsage(
                int(fields["builds"]), int(fields["exhausted"]), float(fields["utilization_sum"])
            )
        return tracker

    def save(self, path: str | Path) -> None:
        """Write the tracker to a JSON file."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> UsageTracker:
        """Read a tracker written by :meth:`save`.

        Raises:
            ConfigurationError: the file is not valid tracker JSON (the path is named).
        """
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"{path}: not a usage tracker file: {exc}") from exc


def adjust_allocations(
    history: UsageTracker | Mapping[str, SectionUsage],
    allocations: Mapping[str, float],
) -> dict[str, float]:
    """New percentage shares from usage history (the reference rule, see the module).

    Both rules apply in sequence: first ``min(share + 5, 50)`` if exhausted more than 3
    times, then ``max(share - 5, 5)`` if average utilization is under 50%. A section that is
    both nets 0 (10 -> 15 -> 10), except where the ceiling or the floor clips a step:
    48 -> 50 -> 45 (net -3), 3 -> 8 -> 5 (net +2). Sections without history keep their share
    before renormalization.

    Args:
        history: a tracker, or section -> :class:`SectionUsage`.
        allocations: section -> share in percent (they should sum to 100).

    Returns:
        section -> new share in percent, summing to 100 (up to float rounding).

    Raises:
        ConfigurationError: a share is negative or not finite, or all shares are zero.
    """
    usage = history.sections if isinstance(history, UsageTracker) else history
    shares = {}
    for name, share in allocations.items():
        if (
            not isinstance(share, (int, float))
            or isinstance(share, bool)
            or not math.isfinite(share)
            or share < 0
        ):
            raise ConfigurationError(
                f"share of {name!r} must be a finite number >= 0, got {share!r}"
            )
        record = usage.get(name)
        new = float(share)
        # Both rules in sequence, as the reference states them (not either/or): a section
        # exhausted and under-used nets 0, unless the ceiling or the floor clipped a step.
        if record is not None and record.exhausted > EXHAUSTED_TIMES:
            new = min(CEILING, new + STEP)
        if record is not None and record.builds and record.average_utilization < LOW_UTILIZATION:
            new = max(FLOOR, new - STEP)
        shares[name] = new
    total = sum(shares.values())
    if total <= 0:
        raise ConfigurationError("all shares are zero: nothing to renormalize")
    return {name: 100.0 * share / total for name, share in shares.items()}


def utilization_report(
    history: UsageTracker | BuiltContext,
) -> list[tuple[str, float, Band]]:
    """``(section, utilization, band)`` per section: a tracker's averages or one build's
    used over fair share (:func:`fair_shares`), highest utilization first."""
    if isinstance(history, BuiltContext):
        shares = fair_shares(history)
        rows = [
            (r.name, _utilization(r.tokens_used, shares[r.name]))
            for r in history.sections
            if r.status != "failed"
        ]
    else:
        rows = [(name, u.average_utilization) for name, u in history.sections.items()]
    rows.sort(key=lambda row: -row[1])
    return [(name, value, utilization_band(value)) for name, value in rows]


def adjusted_preset_yaml(extends: str, shares: Mapping[str, float], *, name: str) -> str:
    """A preset YAML that ``extends`` the original and sets the adjusted weights (share/100)."""
    document = {
        "name": name,
        "description": f"{extends} with weights adjusted from usage history",
        "extends": extends,
        "sections": {section: round(share / 100.0, 4) for section, share in shares.items()},
    }
    return yaml.safe_dump(document, sort_keys=False)
