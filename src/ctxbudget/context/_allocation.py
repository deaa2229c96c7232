"""Allocation: sharing a cap among sections by priority weight (water-filling).

Every section present gets ``clamp(level * weight, floor, ceiling)`` tokens, where the floor is
its ``min_tokens`` (or its whole demand when required), the ceiling is the smaller of its demand
and its ``max_tokens``, and ``level`` is the largest value for which the sum stays within the
cap. A section that needs less than its proportional share keeps only what it needs and the
surplus flows to the others in proportion to their weights: the classic water-filling solution
of max-min fair sharing with weights (Bertsekas & Gallager, *Data Networks*, 2nd ed., section
6.5.2). Shares are rounded down, then the tokens left by rounding go one each to the sections
with the largest fractional parts, so the sum never exceeds the cap.

With ``strategy="strict"`` sections are served whole in priority order instead: each takes all
it demands (up to its ceiling) before any lower-weight section gets anything beyond its floor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

from .._errors import ConfigurationError, RequiredSectionsExceedCap
from .._validate import whole_number

__all__ = ["Strategy", "allocate", "priority_order"]

#: ``"weighted"``: proportional water-filling (default); ``"strict"``: highest priority first.
Strategy = Literal["weighted", "strict"]


def priority_order(names: Sequence[str], weights: Mapping[str, float]) -> list[str]:
    """``names`` from highest to lowest weight; equal weights keep their given order."""
    position = {name: i for i, name in enumerate(names)}
    return sorted(names, key=lambda n: (-weights[n], position[n]))


def allocate(
    cap: int,
    weights: Mapping[str, float],
    *,
    demands: Mapping[str, int | None] | None = None,
    min_tokens: Mapping[str, int] | None = None,
    max_tokens: Mapping[str, int] | None = None,
    required: Sequence[str] = (),
    strategy: Strategy = "weighted",
) -> dict[str, int]:
    """Share ``cap`` tokens among sections by priority weight.

    Args:
        cap: tokens to share (>= 0).
        weights: priority weight of each section (finite, >= 0); keys name the sections, in
            their given order (which breaks ties between equal weights).
        demands: tokens each section can use at most; missing or ``None`` means unbounded
            (not measured yet, or larger than any share).
        min_tokens: floor of each section. When floors do not all fit, the floors of the
            lowest-priority sections are given up first (those sections may get 0).
        max_tokens: ceiling of each section.
        required: sections whose whole demand is their floor, never given up.
        strategy: ``"weighted"`` (water-filling) or ``"strict"`` (priority order).

    Returns:
        Tokens for each section, in the order of ``weights``. The sum is at most ``cap``, every
        value lies between its floor and its ceiling, and when the total demand is within the
        cap every section gets its demand.

    Raises:
        RequiredSectionsExceedCap: the demands of required sections alone exceed ``cap``, or
            a required section's demand exceeds its own ``max_tokens``.
        ConfigurationError: ``cap`` is negative, a weight is negative or not finite, or a required
            section has no demand.

    >>> allocate(1000, {"a": 3, "b": 1})
    {'a': 750, 'b': 250}
    >>> allocate(1000, {"a": 3, "b": 1}, demands={"a": 100})
    {'a': 100, 'b': 900}
    """
    whole_number(cap, "cap", unit="tokens")
    demands = demands or {}
    min_tokens = min_tokens or {}
    max_tokens = max_tokens or {}
    names = list(weights)
    for name in names:
        w = weights[name]
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ConfigurationError(
                f"weight of section {name!r} must be finite and >= 0, got {w!r}"
            )

    ceiling: dict[str, float] = {}
    for name in names:
        c: float = math.inf
        d = demands.get(name)
        if d is not None:
            c = d
        m = max_tokens.get(name)
        if m is not None:
            c = min(c, m)
        ceiling[name] = c
    floor: dict[str, float] = {}
    for name in names:
        if name in required:
            if demands.get(name) is None:
                raise ConfigurationError(f"required section {name!r} needs a demand")
            check_required_limit(name, demands[name], max_tokens.get(name))
            floor[name] = ceiling[name]
        else:
            floor[name] = min(min_tokens.get(name, 0), ceiling[name])

    needed = sum(floor[n] for n in names if n in required)
    if needed > cap:
        raise RequiredSectionsExceedCap(
            needed=int(needed), cap=cap, sections=[n for n in names if n in required]
        )
    order = priority_order(names, weights)
    for name in reversed(order):  # give up the floors of the lowest priorities first
        if sum(floor.values()) <= cap:
            break
        if name not in required:
            floor[name] = 0

    if sum(ceiling.values()) <= cap:
        return {n: int(ceiling[n]) for n in names}
    if strategy == "strict":
        return _strict(cap, order, names, floor, ceiling)
    if strategy != "weighted":
        raise ConfigurationError(f"strategy must be 'weighted' or 'strict', got {strategy!r}")
    top = max(weights.values(), default=0.0)
    # Only ratios matter; scaling the largest weight to 1 keeps tiny weights from overflowing.
    scaled = {n: (weights[n] / top if top > 0 else 0.0) for n in names}
    return _water_fill(cap, names=names, order=order, weights=scaled, floor=floor, ceiling=ceiling)


def _strict(
    cap: int,
    order: list[str],
    names: list[str],
    floor: dict[str, float],
    ceiling: dict[str, float],
) -> dict[str, int]:
    alloc = {n: int(floor[n]) for n in names}
    left = cap - sum(alloc.values())
    for name in order:
        extra = min(ceiling[name] - alloc[name], left)
        alloc[name] += int(extra)
        left -= int(extra)
    return alloc


def _water_fill(
    cap: int,
    *,
    names: list[str],
    order: list[str],
    weights: Mapping[str, float],
    floor: dict[str, float],
    ceiling: dict[str, float],
) -> dict[str, int]:
    def level_sum(level: float) -> float:
        return sum(min(max(level * weights[n], floor[n]), ceiling[n]) for n in names)

    weighted = [n for n in names if weights[n] > 0]
    # Breakpoints of the piecewise-linear level_sum: where a section leaves its floor or reaches
    # its ceiling. Between two breakpoints the sum is linear in the level, so it is solved exactly.
    points = sorted(
        {0.0}
        | {floor[n] / weights[n] for n in weighted}
        | {ceiling[n] / weights[n] for n in weighted if math.isfinite(ceiling[n])}
    )
    lo = 0.0
    level = math.inf
    for point in points:
        if level_sum(point) >= cap:
            base = level_sum(lo)
            mid = (lo + point) / 2  # inside the segment, clear of rounding at its ends
            slope = sum(weights[n] for n in weighted if floor[n] < mid * weights[n] < ceiling[n])
            level = lo + (cap - base) / slope if slope > 0 else lo
            break
        lo = point
    if math.isinf(level):  # every ceiling of a weighted section is below the level
        base = level_sum(lo)
        slope = sum(weights[n] for n in weighted if not math.isfinite(ceiling[n]))
        level = lo + (cap - base) / slope if slope > 0 else lo

    real = {n: min(max(level * weights[n], floor[n]), ceiling[n]) for n in names}
    # Weighted sections are all at their ceilings: zero-weight sections share what is left, in
    # order.
    left = cap - sum(real.values())
    for name in order:
        if left <= 0:
            break
        if weights[name] == 0:
            extra = min(ceiling[name] - real[name], left)
            real[name] += extra
            left -= extra

    alloc = {n: math.floor(real[n] + 1e-9) for n in names}
    alloc = {
        n: min(alloc[n], int(ceiling[n])) if math.isfinite(ceiling[n]) else alloc[n] for n in names
    }
    spare = cap - sum(alloc.values())
    by_fraction = sorted(names, key=lambda n: (-(real[n] - alloc[n]), order.index(n)))
    for name in by_fraction:
        if spare <= 0:
            break
        if alloc[name] < ceiling[name] and real[name] - alloc[name] > 1e-9:
            alloc[name] += 1
            spare -= 1
    for name in order:  # floating-point error can leave a token or two: highest priority first
        if spare <= 0:
            break
        extra = int(min(spare, ceiling[name] - alloc[name]))
        alloc[name] += extra
        spare -= extra
    return alloc


def check_required_limit(name: str, demand: int | None, limit: int | None) -> None:
    """Required content is never trimmed: its demand must fit its own ``max_tokens``.

    Raises:
        RequiredSectionsExceedCap: ``demand > limit`` (with ``section_limit=True``).
    """
    if demand is not None and limit is not None and demand > limit:
        raise RequiredSectionsExceedCap(
            needed=int(demand), cap=limit, sections=[name], section_limit=True
        )
