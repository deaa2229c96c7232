"""Adaptive allocation, utilization bands and the budget manager, on the reference examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctxbudget import (
    BudgetManager,
    ConfigurationError,
    SectionUsage,
    UsageTracker,
    adjust_allocations,
    adjusted_preset_yaml,
    build_context,
    load_preset,
    utilization_band,
    utilization_report,
)
from ctxbudget.testing import CharTokenizer

AGENT_SESSION = {
    "system_context": 10.0,
    "working_memory": 30.0,
    "knowledge_base": 20.0,
    "agent_context": 15.0,
    "interaction_buffer": 25.0,
}


def reference_history() -> UsageTracker:
    """agent_context exhausted 5 times; interaction_buffer at 45% utilization."""
    tracker = UsageTracker()
    for _ in range(5):
        tracker.observe("agent_context", used=1000, allocated=1000, exhausted=True)
        tracker.observe("interaction_buffer", used=450, allocated=1000, exhausted=False)
        for name in ("system_context", "working_memory", "knowledge_base"):
            tracker.observe(name, used=700, allocated=1000, exhausted=False)
    return tracker


def test_adjust_allocations_reproduces_the_reference_example() -> None:
    """agent_context gains 5 points, interaction_buffer loses 5, the total stays 100%."""
    out = adjust_allocations(reference_history(), AGENT_SESSION)
    assert out == pytest.approx(
        {
            "system_context": 10.0,
            "working_memory": 30.0,
            "knowledge_base": 20.0,
            "agent_context": 20.0,
            "interaction_buffer": 20.0,
        }
    )
    assert sum(out.values()) == pytest.approx(100.0)


def test_ceiling_floor_and_renormalization() -> None:
    """Gains stop at 50%, losses at 5%, and the shares are renormalized to 100%."""
    history = {
        "big": SectionUsage(builds=10, exhausted=9, utilization_sum=10.0),
        "tiny": SectionUsage(builds=10, exhausted=0, utilization_sum=1.0),
    }
    out = adjust_allocations(history, {"big": 48.0, "tiny": 6.0, "rest": 46.0})
    # big 48 -> 50 (ceiling), tiny 6 -> 5 (floor), rest 46: 101 in all, renormalized
    assert out == pytest.approx({"big": 5000 / 101, "tiny": 500 / 101, "rest": 4600 / 101})


def test_exhausted_exactly_three_times_does_not_gain() -> None:
    """'More than 3 times': three exhaustions change nothing."""
    history = {"a": SectionUsage(builds=3, exhausted=3, utilization_sum=3.0)}
    assert adjust_allocations(history, {"a": 50.0, "b": 50.0}) == {"a": 50.0, "b": 50.0}


def test_bad_shares_are_refused() -> None:
    """Negative, infinite or all-zero shares are errors."""
    with pytest.raises(ConfigurationError, match="'a'"):
        adjust_allocations(UsageTracker(), {"a": -1.0})
    with pytest.raises(ConfigurationError, match="zero"):
        adjust_allocations(UsageTracker(), {"a": 0.0})


def test_adjusted_preset_extends_the_original_and_loads(tmp_path: Path) -> None:
    """The adjusted shares written as YAML extend the original preset and validate."""
    shares = adjust_allocations(reference_history(), AGENT_SESSION)
    path = tmp_path / "adjusted.yaml"
    path.write_text(adjusted_preset_yaml("agent-session", shares, name="agent-session-tuned"))
    preset = load_preset(path)
    assert preset.max_tokens == 200_000  # inherited
    assert preset.weights()["agent_context"] == pytest.approx(0.20)
    assert preset.spec("system_context").keep == "start"  # inherited option


def test_tracker_records_builds_and_persists(tmp_path: Path) -> None:
    """A tracker learns from real builds and survives a save/load round trip."""
    tracker = UsageTracker()
    for cap in (40, 60):
        tracker.record(
            build_context(
                {"log": "\n".join(["x" * 9] * 20), "tiny": "ok"},
                tokenizer=CharTokenizer(),
                max_tokens=cap,
            )
        )
    assert tracker.sections["log"].exhausted == 2
    assert tracker.sections["tiny"].exhausted == 0
    path = tmp_path / "usage.json"
    tracker.save(path)
    assert UsageTracker.load(path).to_dict() == tracker.to_dict()
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match=r"usage\.json"):
        UsageTracker.load(path)


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (0.95, "critical"),
        (0.90, "critical"),
        (0.80, "high"),
        (0.75, "high"),
        (0.60, "moderate"),
        (0.50, "moderate"),
        (0.49, "low"),
        (0.0, "low"),
    ],
)
def test_utilization_bands(value: float, band: str) -> None:
    """critical >= 90%, high >= 75%, moderate >= 50%, else low."""
    assert utilization_band(value) == band


def test_utilization_report_of_a_tracker() -> None:
    """The report lists sections by utilization with their bands."""
    rows = utilization_report(reference_history())
    assert rows[0] == ("agent_context", 1.0, "critical")
    assert rows[-1] == ("interaction_buffer", pytest.approx(0.45), "low")


def test_budget_manager_outcomes_and_log() -> None:
    """Full grant, grant after cleanup, partial grant and denial, each logged."""
    freed: list[int] = []

    def cleanup(needed: int) -> int:
        freed.append(needed)
        return 30

    manager = BudgetManager(1000, {"memory": 0.1, "tools": 0.9}, cleanup={"memory": cleanup})
    assert manager.limits == {"memory": 100, "tools": 900}
    assert manager.allocate("memory", 80).outcome == "granted"
    after = manager.allocate("memory", 40)  # 20 left; cleanup frees 30 -> 50 left
    assert (after.outcome, after.granted, after.freed) == ("granted_after_cleanup", 40, 30)
    assert freed == [20]
    partial = manager.allocate("tools", 1200)
    assert (partial.outcome, partial.granted) == ("partial", 900)
    denied = manager.allocate("tools", 1)
    assert (denied.outcome, denied.granted) == ("denied", 0)
    assert [a.outcome for a in manager.log] == [
        "granted",
        "granted_after_cleanup",
        "partial",
        "denied",
    ]
    manager.release("tools", 100)
    assert manager.allocate("tools", 100).outcome == "granted"
    with pytest.raises(ConfigurationError, match="memory, tools"):
        manager.allocate("other", 1)
