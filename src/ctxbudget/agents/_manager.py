"""A budget manager for long-lived components: grant, clean up, grant partially, or deny.

Each component owns a share of a total token budget. :meth:`BudgetManager.allocate` grants a
request in full when the component's remaining share covers it. Otherwise it runs the
component's cleanup (which frees tokens) and grants in full if that was enough. Failing that,
it grants what is left, and denies when nothing is left. Every outcome is logged with its time,
component and tokens, for analysis.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from .._errors import ConfigurationError
from .._validate import whole_number

__all__ = ["Allocation", "BudgetManager"]

Outcome = Literal["granted", "granted_after_cleanup", "partial", "denied"]


@dataclass(frozen=True)
class Allocation:
    """One decision: tokens requested and granted, the outcome, tokens freed by cleanup, and
    when (Unix seconds)."""

    component: str
    requested: int
    granted: int
    outcome: Outcome
    freed: int
    time: float


class BudgetManager:
    """Shares of a token budget for long-lived components.

    Args:
        total: the whole budget, in tokens.
        shares: component -> weight; each component may hold ``total * weight / sum``.
        cleanup: component -> callable ``(tokens_needed) -> tokens_freed`` run before a
            partial grant or a denial (e.g. dedupe, evict, summarize its memory).

    Raises:
        ConfigurationError: the total or a weight is invalid.
    """

    def __init__(
        self,
        total: int,
        shares: Mapping[str, float],
        *,
        cleanup: Mapping[str, Callable[[int], int]] | None = None,
    ) -> None:
        whole_number(total, "total", unit="tokens")
        weight_sum = sum(shares.values())
        if any(w < 0 for w in shares.values()) or weight_sum <= 0:
            raise ConfigurationError("shares must be >= 0 and not all zero")
        self.limits = {c: int(total * w / weight_sum) for c, w in shares.items()}
        self.used = dict.fromkeys(shares, 0)
        self.cleanup = dict(cleanup or {})
        self.log: list[Allocation] = []
        self._lock = threading.Lock()

    def allocate(self, component: str, requested: int) -> Allocation:
        """Grant ``requested`` tokens to ``component`` as fully as its share allows.

        Raises:
            ConfigurationError: unknown component (the known ones are listed) or a bad token count.
        """
        if component not in self.limits:
            raise ConfigurationError(
                f"unknown component {component!r}; known: {', '.join(self.limits)}"
            )
        whole_number(requested, "requested", unit="tokens")
        with self._lock:
            available = self.limits[component] - self.used[component]
            freed = 0
            if requested <= available:
                outcome: Outcome = "granted"
                granted = requested
            else:
                clean = self.cleanup.get(component)
                if clean is not None:
                    freed = max(0, min(int(clean(requested - available)), self.used[component]))
                    self.used[component] -= freed
                    available += freed
                if requested <= available:
                    outcome, granted = "granted_after_cleanup", requested
                elif available > 0:
                    outcome, granted = "partial", available
                else:
                    outcome, granted = "denied", 0
            self.used[component] += granted
            decision = Allocation(component, requested, granted, outcome, freed, time.time())
            self.log.append(decision)
            return decision

    def release(self, component: str, tokens: int) -> None:
        """Give back ``tokens`` the component no longer holds."""
        with self._lock:
            self.used[component] = max(0, self.used[component] - tokens)
