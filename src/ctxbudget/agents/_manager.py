"""A budget manager for long-lived components: grant, clean up, grant partially, or deny.

Each component owns a share of a total token budget. :meth:`BudgetManager.allocate` grants a
request in full when the component's remaining share covers it. Otherwise it runs the
component's cleanup (which frees tokens) and grants in full if that was enough. Failing that,
it grants what is left, and denies when nothing is left. Every outcome is kept in
:attr:`BudgetManager.log` with its time, component and tokens, and logged through the
``logging`` logger ``"ctxbudget.components"`` (INFO for full grants, WARNING for partial grants
and denials). :meth:`BudgetManager.report` gives per-component and overall utilization against
the reference's target bands (:mod:`ctxbudget.agents._targets`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from .._errors import ConfigurationError
from .._validate import whole_number
from ._targets import (
    DEFAULT_TARGETS,
    OVERALL_TARGET,
    TargetBand,
    UtilizationReport,
    target_bands,
    utilization_of,
)

__all__ = ["Allocation", "BudgetManager"]

Outcome = Literal["granted", "granted_after_cleanup", "partial", "denied"]

logger = logging.getLogger("ctxbudget.components")


@runtime_checkable
class FreesTokens(Protocol):
    """What a cleanup pipeline may return instead of an ``int``: an object with the tokens it
    freed (e.g. a cleanup result that also lists its actions and duration)."""

    @property
    def tokens_freed(self) -> int: ...


#: A component's cleanup: ``(tokens_needed) -> tokens_freed`` or an object with ``tokens_freed``.
Cleanup = Callable[[int], "int | FreesTokens"]


@dataclass(frozen=True)
class Allocation:
    """One decision: tokens requested and granted, the outcome, tokens freed by cleanup, when
    (Unix seconds), and what the cleanup returned when it returned an object (else ``None``)."""

    component: str
    requested: int
    granted: int
    outcome: Outcome
    freed: int
    time: float
    cleanup: object | None = None


class BudgetManager:
    """Shares of a token budget for long-lived components.

    Args:
        total: the whole budget, in tokens.
        shares: component -> weight; each component may hold ``total * weight / sum``.
        cleanup: component -> callable ``(tokens_needed) -> tokens_freed`` run before a
            partial grant or a denial (e.g. dedupe, evict, summarize its memory); it may
            return an ``int`` or an object with an ``int`` attribute ``tokens_freed``. Freed
            tokens are clipped to what the component holds.
        targets: component -> target band (a :class:`TargetBand` or ``(low, high)``
            fractions); default the reference's five bands (``DEFAULT_TARGETS``).
        overall_target: the overall band; default the reference's 75-85%.

    Raises:
        ConfigurationError: the total, a weight or a target band is invalid.
    """

    def __init__(
        self,
        total: int,
        shares: Mapping[str, float],
        *,
        cleanup: Mapping[str, Cleanup] | None = None,
        targets: Mapping[str, TargetBand | tuple[float, float]] | None = None,
        overall_target: TargetBand = OVERALL_TARGET,
    ) -> None:
        whole_number(total, "total", unit="tokens")
        self.total = total
        self.limits = self._limits_of(shares)
        self.used = dict.fromkeys(shares, 0)
        self.cleanup = dict(cleanup or {})
        self.targets = target_bands(DEFAULT_TARGETS if targets is None else targets)
        self.overall_target = overall_target
        self.log: list[Allocation] = []
        self._lock = threading.Lock()

    def _limits_of(self, shares: Mapping[str, float]) -> dict[str, int]:
        weight_sum = sum(shares.values())
        if any(w < 0 for w in shares.values()) or weight_sum <= 0:
            raise ConfigurationError("shares must be >= 0 and not all zero")
        return {c: int(self.total * w / weight_sum) for c, w in shares.items()}

    def set_shares(self, shares: Mapping[str, float]) -> None:
        """Give the components new shares of the total (e.g. from
        :func:`~ctxbudget.agents.adjust_allocations`); what each holds is kept, so a component
        whose share shrank below what it holds is over its share until it cleans up.

        Raises:
            ConfigurationError: a weight is invalid, or the components are not the same.
        """
        if set(shares) != set(self.limits):
            raise ConfigurationError(
                f"set_shares needs the same components ({', '.join(self.limits)}), "
                f"got {', '.join(shares) or 'none'}"
            )
        limits = self._limits_of(shares)
        with self._lock:
            self.limits = limits

    def _known(self, component: str) -> None:
        if component not in self.limits:
            raise ConfigurationError(
                f"unknown component {component!r}; known: {', '.join(self.limits)}"
            )

    def _clean(self, component: str, needed: int) -> tuple[int, object | None]:
        """Run ``component``'s cleanup for ``needed`` tokens (lock held): (freed, its object)."""
        clean = self.cleanup.get(component)
        if clean is None:
            return 0, None
        result = clean(needed)
        raw: object = result
        kept: object | None = None
        # an int is the common case: it skips the (slower) protocol check
        if not isinstance(result, int) and isinstance(result, FreesTokens):
            raw, kept = result.tokens_freed, result
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ConfigurationError(
                f"cleanup of {component!r} must return tokens freed as an int "
                f"(or an object with tokens_freed), got {raw!r}"
            )
        freed = max(0, min(raw, self.used[component]))
        self.used[component] -= freed
        return freed, kept

    def allocate(self, component: str, requested: int) -> Allocation:
        """Grant ``requested`` tokens to ``component`` as fully as its share allows.

        Raises:
            ConfigurationError: unknown component (the known ones are listed), a bad token
                count, or a cleanup returned something other than tokens freed.
        """
        self._known(component)
        whole_number(requested, "requested", unit="tokens")
        with self._lock:
            available = self.limits[component] - self.used[component]
            freed, kept = 0, None
            if requested <= available:
                outcome: Outcome = "granted"
                granted = requested
            else:
                freed, kept = self._clean(component, requested - available)
                available += freed
                if requested <= available:
                    outcome, granted = "granted_after_cleanup", requested
                elif available > 0:
                    outcome, granted = "partial", available
                else:
                    outcome, granted = "denied", 0
            self.used[component] += granted
            decision = Allocation(component, requested, granted, outcome, freed, time.time(), kept)
            self.log.append(decision)
        level = logging.INFO if granted == requested else logging.WARNING
        logger.log(
            level,
            "%s: %s %d of %d tokens requested (cleanup freed %d)",
            component,
            outcome,
            granted,
            requested,
            freed,
        )
        return decision

    def release(self, component: str, tokens: int) -> None:
        """Give back ``tokens`` the component no longer holds."""
        with self._lock:
            self.used[component] = max(0, self.used[component] - tokens)

    def set_used(self, component: str, tokens: int) -> None:
        """Set the tokens ``component`` holds now (e.g. measured from its memory).

        Raises:
            ConfigurationError: unknown component or a bad token count.
        """
        self._known(component)
        whole_number(tokens, "tokens", unit="tokens")
        with self._lock:
            self.used[component] = tokens

    def available(self, component: str) -> int:
        """Tokens ``component`` may still be granted without cleanup.

        Raises:
            ConfigurationError: unknown component.
        """
        self._known(component)
        with self._lock:
            return max(0, self.limits[component] - self.used[component])

    def report(self) -> UtilizationReport:
        """Per-component and overall allocated / used / available / utilization, bands,
        target bands and the action each target calls for (see
        :mod:`ctxbudget.agents._targets`)."""
        with self._lock:
            used = dict(self.used)
        return utilization_of(self.limits, used, self.targets, self.overall_target)

    def make_room(self, component: str, tokens: int) -> int:
        """Run ``component``'s cleanup now so that ``tokens`` more are available, if short.

        Returns:
            Tokens freed (0 when ``tokens`` are already available or there is no cleanup).

        Raises:
            ConfigurationError: unknown component, a bad token count, or a cleanup returned
                something other than tokens freed.
        """
        self._known(component)
        whole_number(tokens, "tokens", unit="tokens")
        with self._lock:
            short = tokens - (self.limits[component] - self.used[component])
            if short <= 0:
                return 0
            freed, _ = self._clean(component, short)
        logger.info("%s: cleanup ahead of need freed %d of %d tokens", component, freed, short)
        return freed

    def enforce_targets(self) -> dict[str, int]:
        """Clean up every component above its target band down to the band's top.

        A component above its band with a cleanup is asked for
        ``used - floor(high * allocated)`` tokens; components without a cleanup are left as
        they are (the report still says ``"cleanup"``).

        Returns:
            component -> tokens freed, for each component whose cleanup ran.

        Raises:
            ConfigurationError: a cleanup returned something other than tokens freed.
        """
        freed: dict[str, int] = {}
        for line in self.report().components:
            if line.action != "cleanup" or line.target is None:
                continue
            if line.component not in self.cleanup:
                continue
            # the epsilon keeps float noise (0.29 * 100 = 28.999...) from costing a token
            ceiling = math.floor(line.target.high * line.allocated + 1e-9)
            freed[line.component] = self.make_room(line.component, line.allocated - ceiling)
        return freed
