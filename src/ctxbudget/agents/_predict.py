"""A predictive budget manager: estimate upcoming tasks, clean up ahead of need, learn the error.

Each upcoming :class:`Task` is scored from its files, agents and estimated minutes
(:func:`complexity_score`) and classed by the Token Budget Management reference's thresholds:
``simple`` below 50, ``moderate`` from 50 below 150, ``complex`` from 150
(:func:`complexity`). Each class has a token need per component; :class:`PredictiveManager`
adds up the needs of the upcoming tasks, runs a component's cleanup before the work starts
where the prediction exceeds what it has available, and reports the prediction error against
actual use (mean absolute percentage error) next to the reference's +-5% target.

Only the thresholds and the 5% target come from the reference. The score weights
(:class:`ComplexityWeights`: 10 per file, 20 per agent, 2 per estimated minute) and the
per-class needs (:data:`DEFAULT_NEEDS`) are ctxbudget's defaults, sized for the reference's
200,000-token agent session; both are configurable, and ``calibrate`` learns the needs from
observed use.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from .._errors import ConfigurationError
from ._manager import BudgetManager

__all__ = [
    "DEFAULT_NEEDS",
    "ComplexityWeights",
    "ComponentError",
    "PredictionErrorReport",
    "PredictiveManager",
    "Preparation",
    "Task",
    "complexity",
    "complexity_score",
]

Complexity = Literal["simple", "moderate", "complex"]
SIMPLE_BELOW = 50.0  # the reference: simple < 50 <= moderate
COMPLEX_FROM = 150.0  # the reference: moderate < 150 <= complex
ERROR_TARGET = 0.05  # the reference: predictions within +-5% of actual use


def _count(value: object, label: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{label} must be a number >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{label} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class Task:
    """An upcoming task: files it touches, agents it involves, its estimated minutes.

    Raises:
        ConfigurationError: a count is negative, not finite or not a number.
    """

    name: str
    files: int = 0
    agents: int = 1
    estimated_minutes: float = 0.0

    def __post_init__(self) -> None:
        _count(self.files, f"files of task {self.name!r}")
        _count(self.agents, f"agents of task {self.name!r}")
        _count(self.estimated_minutes, f"estimated_minutes of task {self.name!r}")


@dataclass(frozen=True)
class ComplexityWeights:
    """Score points per file, per agent and per estimated minute (ctxbudget's defaults).

    Raises:
        ConfigurationError: a weight is negative or not finite.
    """

    per_file: float = 10.0
    per_agent: float = 20.0
    per_minute: float = 2.0

    def __post_init__(self) -> None:
        for label in ("per_file", "per_agent", "per_minute"):
            _count(getattr(self, label), label)


def complexity_score(task: Task, weights: ComplexityWeights | None = None) -> float:
    """``per_file * files + per_agent * agents + per_minute * estimated_minutes``.

    >>> complexity_score(Task("fix typo", files=1, agents=1, estimated_minutes=5))
    40.0
    """
    w = weights or ComplexityWeights()
    return float(
        w.per_file * task.files + w.per_agent * task.agents + w.per_minute * task.estimated_minutes
    )


def complexity(task: Task, weights: ComplexityWeights | None = None) -> Complexity:
    """The reference's class of ``task``: simple < 50 <= moderate < 150 <= complex (score)."""
    score = complexity_score(task, weights)
    if score < SIMPLE_BELOW:
        return "simple"
    if score < COMPLEX_FROM:
        return "moderate"
    return "complex"


#: Tokens each class of task needs per component (ctxbudget's defaults, not the reference's).
DEFAULT_NEEDS: Mapping[Complexity, Mapping[str, int]] = MappingProxyType(
    {
        "simple": MappingProxyType(
            {
                "system_context": 2_000,
                "working_memory": 5_000,
                "knowledge_base": 4_000,
                "agent_context": 2_000,
                "interaction_buffer": 3_000,
            }
        ),
        "moderate": MappingProxyType(
            {
                "system_context": 2_000,
                "working_memory": 15_000,
                "knowledge_base": 12_000,
                "agent_context": 6_000,
                "interaction_buffer": 8_000,
            }
        ),
        "complex": MappingProxyType(
            {
                "system_context": 2_000,
                "working_memory": 40_000,
                "knowledge_base": 30_000,
                "agent_context": 15_000,
                "interaction_buffer": 20_000,
            }
        ),
    }
)


@dataclass(frozen=True)
class Preparation:
    """What :meth:`PredictiveManager.prepare` did for one component short of its prediction.

    Attributes:
        component: its name.
        predicted: tokens the upcoming tasks need.
        available_before: tokens it had available before cleanup.
        freed: tokens its cleanup freed (0 without a cleanup).
        available_after: tokens available after cleanup.
        short: tokens still missing (``max(0, predicted - available_after)``).
    """

    component: str
    predicted: int
    available_before: int
    freed: int
    available_after: int
    short: int


@dataclass(frozen=True)
class ComponentError:
    """Mean absolute percentage error of one component's predictions (a fraction)."""

    component: str
    observations: int
    mape: float
    met: bool


@dataclass(frozen=True)
class PredictionErrorReport:
    """Prediction error against actual use, per component and overall, vs the 5% target.

    Attributes:
        components: one line per component observed with actual use above 0.
        overall: the error of each task's total prediction (over the components its actual
            use names), averaged over the tasks.
        observations: tasks observed.
        target: the reference's target, 0.05 (+-5%).
        met: ``overall <= target``.
    """

    components: tuple[ComponentError, ...]
    overall: float
    observations: int
    target: float
    met: bool


class PredictiveManager:
    """Predict upcoming tasks' token needs and clean up a :class:`BudgetManager` ahead of them.

    Args:
        manager: the budget manager whose components and cleanups are used.
        needs: class -> component -> tokens one task of that class needs; default
            :data:`DEFAULT_NEEDS`.
        weights: the complexity score weights; default :class:`ComplexityWeights`.
        calibrate: ``None`` (needs stay fixed) or the rate ``a`` in (0, 1] of an exponential
            moving average: each observation moves its class's need to
            ``round((1 - a) * need + a * actual)``.

    Raises:
        ConfigurationError: a class is missing from ``needs``, a need is not a whole number
            >= 0, or ``calibrate`` is outside (0, 1].
    """

    def __init__(
        self,
        manager: BudgetManager,
        *,
        needs: Mapping[str, Mapping[str, int]] | None = None,
        weights: ComplexityWeights | None = None,
        calibrate: float | None = None,
    ) -> None:
        source = DEFAULT_NEEDS if needs is None else needs
        self.needs: dict[str, dict[str, int]] = {}
        for kind in ("simple", "moderate", "complex"):
            if kind not in source:
                raise ConfigurationError(f"needs has no {kind!r} class")
            for component, tokens in source[kind].items():
                if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
                    raise ConfigurationError(
                        f"need of {component!r} for {kind!r} tasks must be a whole number "
                        f">= 0 (tokens), got {tokens!r}"
                    )
            self.needs[kind] = dict(source[kind])
        if calibrate is not None and not (
            isinstance(calibrate, (int, float)) and 0 < calibrate <= 1
        ):
            raise ConfigurationError(f"calibrate must be in (0, 1], got {calibrate!r}")
        self.manager = manager
        self.weights = weights or ComplexityWeights()
        self.calibrate = calibrate
        self.history: list[tuple[dict[str, int], dict[str, int]]] = []

    def predict_task(self, task: Task) -> dict[str, int]:
        """Component -> tokens ``task`` needs: its class's needs."""
        return dict(self.needs[complexity(task, self.weights)])

    def predict(self, tasks: Iterable[Task]) -> dict[str, int]:
        """Component -> tokens the upcoming ``tasks`` need together (their needs add up: they
        share the window until the next cleanup)."""
        total: dict[str, int] = {}
        for task in tasks:
            for component, tokens in self.predict_task(task).items():
                total[component] = total.get(component, 0) + tokens
        return total

    def prepare(self, tasks: Iterable[Task]) -> tuple[Preparation, ...]:
        """Clean up, before the work starts, every component whose predicted need exceeds
        what it has available (components the manager does not know are skipped).

        Returns:
            One :class:`Preparation` per component that was short, in prediction order.

        Raises:
            ConfigurationError: a cleanup returned something other than tokens freed.
        """
        done = []
        for component, predicted in self.predict(tasks).items():
            if component not in self.manager.limits:
                continue
            before = self.manager.available(component)
            if predicted <= before:
                continue
            freed = self.manager.make_room(component, predicted)
            after = self.manager.available(component)
            done.append(
                Preparation(component, predicted, before, freed, after, max(0, predicted - after))
            )
        return tuple(done)

    def observe(self, task: Task, actual: Mapping[str, int]) -> dict[str, int]:
        """Record ``task``'s actual use (component -> tokens) against its prediction.

        Returns:
            The prediction it is compared with (made before any calibration).

        Raises:
            ConfigurationError: an actual count is not a whole number >= 0.
        """
        for component, tokens in actual.items():
            if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
                raise ConfigurationError(
                    f"actual use of {component!r} must be a whole number >= 0, got {tokens!r}"
                )
        predicted = self.predict_task(task)
        self.history.append((predicted, dict(actual)))
        if self.calibrate is not None:
            need = self.needs[complexity(task, self.weights)]
            for component, tokens in actual.items():
                old = need.get(component, 0)
                need[component] = round((1 - self.calibrate) * old + self.calibrate * tokens)
        return predicted

    def error_report(self, last: int | None = None) -> PredictionErrorReport:
        """Mean absolute percentage error ``|predicted - actual| / actual`` of the observed
        tasks (the ``last`` ones only when given), per component and of each task's total;
        pairs with actual use 0 are left out."""
        history = self.history if last is None else self.history[-last:] if last > 0 else []
        errors: dict[str, list[float]] = {}
        totals = []
        for predicted, actual in history:
            for component, tokens in actual.items():
                if tokens > 0:
                    miss = abs(predicted.get(component, 0) - tokens) / tokens
                    errors.setdefault(component, []).append(miss)
            spent = sum(actual.values())
            if spent > 0:
                guessed = sum(predicted.get(c, 0) for c in actual)
                totals.append(abs(guessed - spent) / spent)
        lines = tuple(
            ComponentError(c, len(v), sum(v) / len(v), sum(v) / len(v) <= ERROR_TARGET)
            for c, v in errors.items()
        )
        overall = sum(totals) / len(totals) if totals else 0.0
        return PredictionErrorReport(
            components=lines,
            overall=overall,
            observations=len(history),
            target=ERROR_TARGET,
            met=bool(totals) and overall <= ERROR_TARGET,
        )
