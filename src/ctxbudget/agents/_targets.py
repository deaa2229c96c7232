"""Utilization reports of component budgets, with target bands and the action each calls for.

The Token Budget Management reference for long-lived agent sessions (a 200K window split
across five components) sets a target utilization band per component and overall:

=====================  ==========
component              target
=====================  ==========
``system_context``     95-99%
``working_memory``     70-80%
``knowledge_base``     60-75%
``agent_context``      70-85%
``interaction_buffer`` 60-75%
overall                75-85%
=====================  ==========

A component above its band calls for ``"cleanup"`` (run its pipeline down to the band's top,
:meth:`~ctxbudget.agents.BudgetManager.enforce_targets`); one below calls for ``"release"``
(its unused share is a candidate to give to others); within, ``"none"``. Components without
a target get no status and no action. The utilization bands (critical >= 90%, high >= 75%,
moderate >= 50%, low) are :func:`~ctxbudget.agents.utilization_band`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from .._errors import ConfigurationError
from ._adaptive import Band, utilization_band

__all__ = [
    "DEFAULT_TARGETS",
    "OVERALL_TARGET",
    "ComponentUtilization",
    "TargetBand",
    "UtilizationReport",
    "target_bands",
    "utilization_of",
]

#: ``below`` / ``within`` / ``above`` a target band (bounds inclusive).
TargetStatus = Literal["below", "within", "above"]
#: What a target status calls for: ``cleanup`` when above, ``release`` when below.
Action = Literal["cleanup", "release", "none"]


@dataclass(frozen=True)
class TargetBand:
    """A target utilization band, as fractions of the allocation: ``low <= u <= high``.

    Raises:
        ConfigurationError: a bound is not a finite number in [0, 1], or ``low > high``.
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        for label, value in (("low", self.low), ("high", self.high)):
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not math.isfinite(value)
                or not 0.0 <= value <= 1.0
            ):
                raise ConfigurationError(
                    f"target band {label} must be a fraction in [0, 1] (0.75, not 75), "
                    f"got {value!r}"
                )
        if self.low > self.high:
            raise ConfigurationError(
                f"target band low {self.low!r} is above its high {self.high!r}"
            )

    def status(self, utilization: float) -> TargetStatus:
        """Where ``utilization`` (a fraction) lies against the band."""
        if utilization > self.high:
            return "above"
        if utilization < self.low:
            return "below"
        return "within"

    def __str__(self) -> str:
        return f"{self.low * 100:g}-{self.high * 100:g}%"


#: The reference's per-component target bands (see the module docstring).
DEFAULT_TARGETS: Mapping[str, TargetBand] = MappingProxyType(
    {
        "system_context": TargetBand(0.95, 0.99),
        "working_memory": TargetBand(0.70, 0.80),
        "knowledge_base": TargetBand(0.60, 0.75),
        "agent_context": TargetBand(0.70, 0.85),
        "interaction_buffer": TargetBand(0.60, 0.75),
    }
)
#: The reference's overall target band.
OVERALL_TARGET = TargetBand(0.75, 0.85)


def target_bands(
    targets: Mapping[str, TargetBand | tuple[float, float]],
) -> dict[str, TargetBand]:
    """Component -> :class:`TargetBand` from bands or ``(low, high)`` fraction pairs.

    Raises:
        ConfigurationError: a value is neither a band nor a pair (the component is named), or
            a pair is not a valid band.
    """
    out = {}
    for name, value in targets.items():
        if isinstance(value, TargetBand):
            out[name] = value
        elif isinstance(value, tuple) and len(value) == 2:
            out[name] = TargetBand(*value)
        else:
            raise ConfigurationError(
                f"target of {name!r} must be a TargetBand or a (low, high) pair, got {value!r}"
            )
    return out


_ACTIONS: Mapping[TargetStatus | None, Action] = {
    "above": "cleanup",
    "below": "release",
    "within": "none",
    None: "none",
}


@dataclass(frozen=True)
class ComponentUtilization:
    """One component's line of a :class:`UtilizationReport`; tokens are whole tokens.

    Attributes:
        component: its name.
        allocated: its share of the total, in tokens.
        used: tokens it holds.
        available: ``max(0, allocated - used)``.
        utilization: ``used / allocated`` (0.0 when nothing is allocated; above 1.0 when a
            component was set to hold more than its share).
        band: :func:`~ctxbudget.agents.utilization_band` of ``utilization``.
        target: its target band, or ``None``.
        status: ``utilization`` against ``target``, or ``None`` without a target.
        action: ``"cleanup"`` above the target, ``"release"`` below it, else ``"none"``.
    """

    component: str
    allocated: int
    used: int
    available: int
    utilization: float
    band: Band
    target: TargetBand | None
    status: TargetStatus | None
    action: Action

    @property
    def percent(self) -> float:
        """``utilization`` in percent."""
        return 100.0 * self.utilization


@dataclass(frozen=True)
class UtilizationReport:
    """Per-component and overall utilization of a budget, against target bands.

    Attributes:
        components: one line per component, in the manager's order.
        allocated: sum of the components' allocations, in tokens.
        used: sum of their used tokens.
        available: sum of their available tokens.
        utilization: ``used / allocated`` overall (0.0 when nothing is allocated).
        band: the overall utilization band.
        target: the overall target band (the reference's 75-85% by default).
        status: overall utilization against ``target``.
    """

    components: tuple[ComponentUtilization, ...]
    allocated: int
    used: int
    available: int
    utilization: float
    band: Band
    target: TargetBand
    status: TargetStatus

    def component(self, name: str) -> ComponentUtilization:
        """The line of component ``name``.

        Raises:
            KeyError: no such component in the report.
        """
        for line in self.components:
            if line.component == name:
                return line
        raise KeyError(f"no component {name!r} in this report")

    @property
    def percent(self) -> float:
        """Overall ``utilization`` in percent."""
        return 100.0 * self.utilization

    def format_table(self) -> str:
        """The report as a plain-text table, one row per component and an overall row."""
        header = ("component", "allocated", "used", "available", "used %", "band", "target")
        rows = [
            (
                c.component,
                f"{c.allocated:,}",
                f"{c.used:,}",
                f"{c.available:,}",
                f"{c.percent:.1f}%",
                c.band,
                f"{c.target} {c.status} -> {c.action}" if c.target is not None else "-",
            )
            for c in self.components
        ]
        rows.append(
            (
                "overall",
                f"{self.allocated:,}",
                f"{self.used:,}",
                f"{self.available:,}",
                f"{self.percent:.1f}%",
                self.band,
                f"{self.target} {self.status}",
            )
        )
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines = [
            "  ".join(
                cell.ljust(w) if i in (0, 5, 6) else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in [header, *rows]
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format_table()


def _ratio(used: int, allocated: int) -> float:
    return used / allocated if allocated > 0 else 0.0


def utilization_of(
    limits: Mapping[str, int],
    used: Mapping[str, int],
    targets: Mapping[str, TargetBand],
    overall: TargetBand = OVERALL_TARGET,
) -> UtilizationReport:
    """The report of components with ``limits`` tokens each, holding ``used`` tokens.

    Args:
        limits: component -> allocation in tokens, in report order.
        used: component -> tokens used (missing means 0).
        targets: component -> target band; components not named get none.
        overall: the overall target band.
    """
    lines = []
    for name, allocated in limits.items():
        held = used.get(name, 0)
        value = _ratio(held, allocated)
        target = targets.get(name)
        status = target.status(value) if target is not None else None
        lines.append(
            ComponentUtilization(
                component=name,
                allocated=allocated,
                used=held,
                available=max(0, allocated - held),
                utilization=value,
                band=utilization_band(value),
                target=target,
                status=status,
                action=_ACTIONS[status],
            )
        )
    total = sum(c.allocated for c in lines)
    total_used = sum(c.used for c in lines)
    value = _ratio(total_used, total)
    return UtilizationReport(
        components=tuple(lines),
        allocated=total,
        used=total_used,
        available=sum(c.available for c in lines),
        utilization=value,
        band=utilization_band(value),
        target=overall,
        status=overall.status(value),
    )
