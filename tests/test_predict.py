"""The predictive manager (issue 14, part 5): complexity classes at the reference's thresholds,
predicted needs, cleanup ahead of need, and the prediction error against the 5% target."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctxbudget import BudgetManager, ConfigurationError
from ctxbudget.agents import (
    ComplexityWeights,
    PredictiveManager,
    Preparation,
    Task,
    complexity,
    complexity_score,
)

AGENT_SESSION = {
    "system_context": 10.0,
    "working_memory": 30.0,
    "knowledge_base": 20.0,
    "agent_context": 15.0,
    "interaction_buffer": 25.0,
}

# Scores with the default weights: 10 per file, 20 per agent, 2 per estimated minute.
SIMPLE_49 = Task("rename", files=2, agents=1, estimated_minutes=4.5)  # 20 + 20 + 9
MODERATE_50 = Task("endpoint", files=3, agents=1)  # 30 + 20
MODERATE_149 = Task("feature", files=10, agents=2, estimated_minutes=4.5)  # 100 + 40 + 9
COMPLEX_150 = Task("migration", files=10, agents=2, estimated_minutes=5)  # 100 + 40 + 10


@dataclass(frozen=True)
class CleanupResult:
    tokens_freed: int


@pytest.mark.parametrize(
    ("task", "score", "kind"),
    [
        (SIMPLE_49, 49.0, "simple"),
        (MODERATE_50, 50.0, "moderate"),
        (MODERATE_149, 149.0, "moderate"),
        (COMPLEX_150, 150.0, "complex"),
    ],
)
def test_reference_thresholds_at_their_boundaries(task: Task, score: float, kind: str) -> None:
    """simple < 50 <= moderate < 150 <= complex."""
    assert complexity_score(task) == pytest.approx(score)
    assert complexity(task) == kind


def test_score_weights_are_configurable() -> None:
    """With 50 points per file, three files alone make a complex task."""
    heavy = ComplexityWeights(per_file=50, per_agent=0, per_minute=0)
    assert complexity_score(Task("t", files=3, agents=4), heavy) == pytest.approx(150.0)
    assert complexity(Task("t", files=3, agents=4), heavy) == "complex"
    with pytest.raises(ConfigurationError, match="per_file"):
        ComplexityWeights(per_file=-1)
    with pytest.raises(ConfigurationError, match="files of task 't'"):
        Task("t", files=-2)


@given(st.integers(0, 50), st.integers(0, 10), st.floats(0, 500), st.integers(1, 20))
def test_more_files_never_lowers_the_class(
    files: int, agents: int, minutes: float, more: int
) -> None:
    """The score only grows with files, so the class never drops."""
    order = ["simple", "moderate", "complex"]
    base = complexity(Task("t", files=files, agents=agents, estimated_minutes=minutes))
    grown = complexity(Task("t", files=files + more, agents=agents, estimated_minutes=minutes))
    assert order.index(grown) >= order.index(base)


def test_predicted_needs_of_one_task_of_each_class_add_up() -> None:
    """simple + moderate + complex with the default needs, component by component."""
    predictor = PredictiveManager(BudgetManager(200_000, AGENT_SESSION))
    assert predictor.predict([SIMPLE_49, MODERATE_50, COMPLEX_150]) == {
        "system_context": 2_000 + 2_000 + 2_000,
        "working_memory": 5_000 + 15_000 + 40_000,
        "knowledge_base": 4_000 + 12_000 + 30_000,
        "agent_context": 2_000 + 6_000 + 15_000,
        "interaction_buffer": 3_000 + 8_000 + 20_000,
    }


def test_prepare_cleans_up_only_where_the_prediction_exceeds_what_is_available() -> None:
    """working_memory: 60,000 predicted, 30,000 free -> asked for 30,000, gets it all;
    knowledge_base: 46,000 predicted, 30,000 free -> asked for 16,000, frees 5,000."""
    asked: dict[str, list[int]] = {"working_memory": [], "knowledge_base": [], "agent_context": []}

    def recorded(name: str, frees: int | None) -> Callable[[int], int | CleanupResult]:
        def run(needed: int) -> int | CleanupResult:
            asked[name].append(needed)
            return CleanupResult(needed) if frees is None else frees

        return run

    manager = BudgetManager(
        200_000,
        AGENT_SESSION,
        cleanup={
            "working_memory": recorded("working_memory", None),  # frees what it is asked
            "knowledge_base": recorded("knowledge_base", 5_000),
            "agent_context": recorded("agent_context", None),
        },
    )
    manager.set_used("working_memory", 30_000)  # of 60,000
    manager.set_used("knowledge_base", 10_000)  # of 40,000
    done = PredictiveManager(manager).prepare([SIMPLE_49, MODERATE_50, COMPLEX_150])
    assert done == (
        Preparation("working_memory", 60_000, 30_000, 30_000, 60_000, 0),
        Preparation("knowledge_base", 46_000, 30_000, 5_000, 35_000, 11_000),
    )
    assert asked == {"working_memory": [30_000], "knowledge_base": [16_000], "agent_context": []}
    assert manager.used["working_memory"] == 0


def test_error_report_against_the_five_percent_target() -> None:
    """Mean absolute percentage error per component and of each task's total."""
    predictor = PredictiveManager(BudgetManager(200_000, AGENT_SESSION))
    predictor.observe(SIMPLE_49, {"working_memory": 5_250, "knowledge_base": 4_000})
    first = predictor.error_report()
    # total: 9,000 predicted vs 9,250 used = 250 / 9,250 = 2.7%: the target is met
    assert first.overall == pytest.approx(250 / 9_250)
    assert first.met
    predictor.observe(MODERATE_50, {"working_memory": 12_000, "knowledge_base": 12_000})
    report = predictor.error_report()
    lines = {c.component: (c.observations, c.mape, c.met) for c in report.components}
    assert lines == {
        "working_memory": (2, pytest.approx((250 / 5_250 + 3_000 / 12_000) / 2), False),
        "knowledge_base": (2, 0.0, True),
    }
    # totals: 250 / 9,250 and 3,000 / 24,000, averaged
    assert report.overall == pytest.approx((250 / 9_250 + 3_000 / 24_000) / 2)
    assert (report.observations, report.target, report.met) == (2, 0.05, False)
    assert predictor.error_report(last=1).overall == pytest.approx(3_000 / 24_000)


def test_calibration_converges_to_the_five_percent_target() -> None:
    """An average at rate 0.5 moves the need 5,000 -> 6,500 -> 7,250 -> 7,625 toward 8,000."""
    predictor = PredictiveManager(BudgetManager(200_000, AGENT_SESSION), calibrate=0.5)
    errors = []
    for _ in range(4):
        predictor.observe(SIMPLE_49, {"working_memory": 8_000})
        errors.append(predictor.error_report(last=1).overall)
    assert errors == pytest.approx([3_000 / 8_000, 1_500 / 8_000, 750 / 8_000, 375 / 8_000])
    assert predictor.error_report(last=1).met  # 4.7% <= 5%
    assert predictor.needs["simple"]["working_memory"] == 7_812  # round(7,812.5), to even
    fixed = PredictiveManager(BudgetManager(200_000, AGENT_SESSION))
    fixed.observe(SIMPLE_49, {"working_memory": 8_000})
    assert fixed.needs["simple"]["working_memory"] == 5_000


def test_bad_needs_and_observations_are_refused() -> None:
    """Every class needs an entry; needs and actual use are whole token counts."""
    manager = BudgetManager(1000, {"m": 1})
    with pytest.raises(ConfigurationError, match="'complex'"):
        PredictiveManager(manager, needs={"simple": {}, "moderate": {}})
    with pytest.raises(ConfigurationError, match="'m' for 'simple'"):
        PredictiveManager(manager, needs={"simple": {"m": -1}, "moderate": {}, "complex": {}})
    with pytest.raises(ConfigurationError, match="calibrate"):
        PredictiveManager(manager, calibrate=1.5)
    with pytest.raises(ConfigurationError, match="actual use of 'm'"):
        PredictiveManager(manager).observe(SIMPLE_49, {"m": 1.5})  # type: ignore[dict-item]
