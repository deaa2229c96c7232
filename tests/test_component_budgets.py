"""Component budgets (issue 14, parts 3 and 4): the manager's outcomes, utilization report and
target bands; true utilization; the reference adjustment rule; opt-in adaptation."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctxbudget import (
    BudgetManager,
    BuiltContext,
    ConfigurationError,
    SectionReport,
    SectionUsage,
    UsageTracker,
    adjust_allocations,
    build_context,
    load_preset,
)
from ctxbudget.agents import (
    DEFAULT_TARGETS,
    AdaptiveBuilder,
    TargetBand,
    fair_shares,
    utilization_report,
)
from ctxbudget.context import Preset
from ctxbudget.testing import CharTokenizer

#: The reference's five components and their shares of a 200K window, in percent.
AGENT_SESSION = {
    "system_context": 10.0,
    "working_memory": 30.0,
    "knowledge_base": 20.0,
    "agent_context": 15.0,
    "interaction_buffer": 25.0,
}


@dataclass(frozen=True)
class CleanupResult:
    """Shaped like the cleanup pipelines' result: tokens freed, actions, duration."""

    tokens_freed: int
    actions: tuple[str, ...] = ()
    duration_s: float = 0.0


# -- adjust_allocations: the reference rule -------------------------------------------------


def test_reference_worked_example() -> None:
    """agent_context exhausted 5 times gains 5 points; interaction_buffer at 45% loses 5."""
    history = {
        "agent_context": SectionUsage(builds=5, exhausted=5, utilization_sum=5.0),
        "interaction_buffer": SectionUsage(builds=5, exhausted=0, utilization_sum=2.25),
        "system_context": SectionUsage(builds=5, exhausted=0, utilization_sum=3.5),
    }
    out = adjust_allocations(history, AGENT_SESSION)
    assert out == pytest.approx(
        {
            "system_context": 10.0,
            "working_memory": 30.0,
            "knowledge_base": 20.0,
            "agent_context": 20.0,
            "interaction_buffer": 20.0,
        }
    )


def test_exhausted_and_under_used_applies_both_rules_in_sequence() -> None:
    """+5 (ceiling 50) then -5 (floor 5): 10 -> 15 -> 10, 48 -> 50 -> 45, 3 -> 8 -> 5."""
    both = SectionUsage(builds=10, exhausted=4, utilization_sum=3.0)  # 4 > 3, 30% < 50%
    history = {"a": both, "b": both, "c": both}
    out = adjust_allocations(history, {"a": 10.0, "b": 48.0, "c": 3.0, "d": 39.0})
    # 10 + 45 + 5 + 39 = 99, renormalized to 100 (the old elif gave 15, 50 and 8)
    assert out == pytest.approx({"a": 1000 / 99, "b": 4500 / 99, "c": 500 / 99, "d": 3900 / 99})


@given(
    st.dictionaries(
        st.sampled_from(list(AGENT_SESSION)),
        st.builds(
            lambda builds, exhausted, mean: SectionUsage(builds, exhausted, builds * mean),
            st.integers(1, 20),
            st.integers(0, 20),
            st.floats(0.0, 1.0),
        ),
    )
)
def test_adjusted_shares_always_sum_to_100(history: dict[str, SectionUsage]) -> None:
    """Whatever the history, the adjusted shares are positive and sum to 100%."""
    out = adjust_allocations(history, AGENT_SESSION)
    assert sum(out.values()) == pytest.approx(100.0)
    assert all(share > 0 for share in out.values())


# -- true utilization ------------------------------------------------------------------------


def _report(name: str, priority: float, used: int, status: str = "full") -> SectionReport:
    return SectionReport(
        name=name,
        title=name,
        priority=priority,
        required=False,
        status=status,  # type: ignore[arg-type]
        tokens_demanded=used,
        demand_exact=True,
        tokens_allocated=used,
        tokens_used=used,
        items_kept=1,
    )


def test_fair_shares_take_the_frame_off_the_cap() -> None:
    """Cap 1000, text 120 tokens of which sections count 100: 980 shared 3:1; failed ignored."""
    sections = (_report("a", 3.0, 60), _report("b", 1.0, 40), _report("c", 5.0, 0, "failed"))
    built = BuiltContext("", 120, 1000, "chars", False, sections)
    assert fair_shares(built) == pytest.approx({"a": 735.0, "b": 245.0})
    uncapped = BuiltContext("", 120, None, "chars", False, sections)
    assert fair_shares(uncapped) == pytest.approx({"a": 75.0, "b": 25.0})


def test_zero_weights_share_equally_and_a_zero_share_that_is_used_counts_as_full() -> None:
    """All priorities 0: 100 tokens split 50/50; a 0-weight section holding tokens is at 100%."""
    zeros = BuiltContext("", 30, 100, "chars", False, (_report("a", 0, 20), _report("b", 0, 10)))
    assert fair_shares(zeros) == pytest.approx({"a": 50.0, "b": 50.0})
    mixed = BuiltContext("", 30, 100, "chars", False, (_report("a", 1, 20), _report("b", 0, 10)))
    tracker = UsageTracker()
    tracker.record(mixed)
    assert tracker.sections["a"].average_utilization == pytest.approx(0.2)  # 20 of 100
    assert tracker.sections["b"].average_utilization == 1.0


def test_a_small_section_in_a_big_cap_is_low_not_critical() -> None:
    """A 2-line section that fits shows its use against its fair share, not 100%."""
    result = build_context(
        {"system_context": "you are terse", "working_memory": "plan: a\nplan: b"},
        tokenizer=CharTokenizer(),
        preset="agent-session",
        max_tokens=2000,
    )
    memory = result.section("working_memory")
    assert memory.tokens_used == memory.tokens_allocated  # it fits: the old measure said 100%
    tracker = UsageTracker()
    tracker.record(result)
    # fair shares: 2000 * 0.3 / 0.4 = 1500 and 2000 * 0.1 / 0.4 = 500 (no frame tokens)
    usage = tracker.sections["working_memory"]
    assert usage.average_utilization == pytest.approx(memory.tokens_used / 1500)
    system = result.section("system_context").tokens_used
    assert tracker.sections["system_context"].average_utilization == pytest.approx(system / 500)
    assert {name: band for name, _, band in utilization_report(tracker)} == {
        "working_memory": "low",
        "system_context": "low",
    }
    assert {name: band for name, _, band in utilization_report(result)} == {
        "working_memory": "low",
        "system_context": "low",
    }


def test_trimmed_sections_are_still_exhausted_and_full_use() -> None:
    """A section trimmed to its allocation uses at least its fair share: 100%, exhausted."""
    result = build_context(
        {"working_memory": "\n".join(["w" * 19] * 300), "interaction_buffer": "hi"},
        tokenizer=CharTokenizer(),
        preset="agent-session",
        max_tokens=2000,
    )
    tracker = UsageTracker()
    tracker.record(result)
    assert vars(tracker.sections["working_memory"]) == {
        "builds": 1,
        "exhausted": 1,
        "utilization_sum": 1.0,
    }
    assert tracker.sections["interaction_buffer"].exhausted == 0
    assert tracker.sections["interaction_buffer"].average_utilization < 0.05


def test_tracker_files_written_before_true_utilization_still_load(tmp_path: Path) -> None:
    """The JSON format is unchanged: an older file loads and drives the adjustment."""
    path = tmp_path / "old.json"
    old = {"agent_context": {"builds": 5, "exhausted": 5, "utilization_sum": 5.0}}
    path.write_text(json.dumps(old))
    tracker = UsageTracker.load(path)
    # 15 -> 20 (exhausted 5 > 3 times); 20 + 85 = 105, renormalized to 100
    assert adjust_allocations(tracker, {"agent_context": 15.0, "rest": 85.0}) == pytest.approx(
        {"agent_context": 2000 / 105, "rest": 8500 / 105}
    )


# -- BudgetManager: outcomes, logging, report, targets ---------------------------------------


def test_four_outcomes_with_a_cleanup_result_object(caplog: pytest.LogCaptureFixture) -> None:
    """A cleanup may return an object with tokens_freed; it is kept; every outcome is logged."""
    asked: list[int] = []

    def cleanup(needed: int) -> CleanupResult:
        asked.append(needed)
        return CleanupResult(30, ("dedupe",), 0.01)

    manager = BudgetManager(1000, {"memory": 0.1, "tools": 0.9}, cleanup={"memory": cleanup})
    with caplog.at_level(logging.INFO, logger="ctxbudget.components"):
        full = manager.allocate("memory", 80)
        after = manager.allocate("memory", 40)  # 20 left, cleanup frees 30 -> 50 left
        partial = manager.allocate("tools", 1200)
        denied = manager.allocate("tools", 1)
    assert (full.outcome, full.cleanup) == ("granted", None)
    assert (after.outcome, after.granted, after.freed) == ("granted_after_cleanup", 40, 30)
    assert after.cleanup == CleanupResult(30, ("dedupe",), 0.01)
    assert asked == [20]
    assert (partial.outcome, partial.granted) == ("partial", 900)
    assert (denied.outcome, denied.granted) == ("denied", 0)
    records = [r for r in caplog.records if r.name == "ctxbudget.components"]
    assert [r.levelname for r in records] == ["INFO", "INFO", "WARNING", "WARNING"]
    assert "memory: granted_after_cleanup 40 of 40 tokens requested (cleanup freed 30)" in (
        records[1].getMessage()
    )


def test_a_cleanup_returning_no_count_is_an_error() -> None:
    """A cleanup must return tokens freed (an int or an object carrying one)."""
    manager = BudgetManager(100, {"m": 1}, cleanup={"m": lambda needed: "30"})  # type: ignore[dict-item, return-value]
    with pytest.raises(ConfigurationError, match="cleanup of 'm'"):
        manager.allocate("m", 200)


def _session(cleanup: dict[str, object] | None = None) -> BudgetManager:
    manager = BudgetManager(200_000, AGENT_SESSION, cleanup=cleanup)  # type: ignore[arg-type]
    for name, used in {
        "system_context": 19_400,  # of 20,000: 97%, within 95-99
        "working_memory": 51_000,  # of 60,000: 85%, above 70-80
        "knowledge_base": 20_000,  # of 40,000: 50%, below 60-75
        "agent_context": 24_000,  # of 30,000: 80%, within 70-85
        "interaction_buffer": 33_000,  # of 50,000: 66%, within 60-75
    }.items():
        manager.set_used(name, used)
    return manager


def test_report_per_component_and_overall_with_target_bands() -> None:
    """Allocated, used, available, %, band, target band, status and action, hand-computed."""
    report = _session().report()
    rows = {
        c.component: (c.allocated, c.used, c.available, c.band, str(c.target), c.status, c.action)
        for c in report.components
    }
    assert rows == {
        "system_context": (20_000, 19_400, 600, "critical", "95-99%", "within", "none"),
        "working_memory": (60_000, 51_000, 9_000, "high", "70-80%", "above", "cleanup"),
        "knowledge_base": (40_000, 20_000, 20_000, "moderate", "60-75%", "below", "release"),
        "agent_context": (30_000, 24_000, 6_000, "high", "70-85%", "within", "none"),
        "interaction_buffer": (50_000, 33_000, 17_000, "moderate", "60-75%", "within", "none"),
    }
    assert report.component("working_memory").percent == pytest.approx(85.0)
    # 147,400 of 200,000 = 73.7%: below the overall 75-85% target
    assert (report.allocated, report.used, report.available) == (200_000, 147_400, 52_600)
    assert report.percent == pytest.approx(73.7)
    assert (report.band, str(report.target), report.status) == ("moderate", "75-85%", "below")
    table = report.format_table()
    assert "70-80% above -> cleanup" in table
    assert table.splitlines()[-1].split() == [
        "overall",
        "200,000",
        "147,400",
        "52,600",
        "73.7%",
        "moderate",
        "75-85%",
        "below",
    ]


def test_enforce_targets_cleans_down_to_the_band_top() -> None:
    """working_memory at 51,000 of 60,000 is asked for 51,000 - 48,000 = 3,000 tokens."""
    asked: dict[str, list[int]] = {"working_memory": [], "knowledge_base": []}

    def pipeline(name: str) -> object:
        def run(needed: int) -> CleanupResult:
            asked[name].append(needed)
            return CleanupResult(needed, ("summarize",))

        return run

    manager = _session({name: pipeline(name) for name in asked})
    assert manager.enforce_targets() == {"working_memory": 3_000}
    assert asked == {"working_memory": [3_000], "knowledge_base": []}  # below: not cleaned
    line = manager.report().component("working_memory")
    assert (line.used, line.status, line.action) == (48_000, "within", "none")


def test_targets_are_configurable_and_validated() -> None:
    """Components without a target get none; bands are fractions with low <= high."""
    manager = BudgetManager(1000, {"scratch": 1, "notes": 1}, targets={"notes": (0.5, 0.6)})
    manager.set_used("notes", 250)  # of 500: 50%, within 50-60
    scratch, notes = manager.report().components
    assert (scratch.target, scratch.status, scratch.action) == (None, None, "none")
    assert (notes.target, notes.status) == (TargetBand(0.5, 0.6), "within")
    assert set(DEFAULT_TARGETS) == set(AGENT_SESSION)
    with pytest.raises(ConfigurationError, match=r"0\.75, not 75"):
        TargetBand(75, 85)
    with pytest.raises(ConfigurationError, match="above its high"):
        TargetBand(0.9, 0.8)
    with pytest.raises(ConfigurationError, match="'notes'"):
        BudgetManager(1000, {"notes": 1}, targets={"notes": "high"})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="unknown component 'other'"):
        manager.set_used("other", 1)


@pytest.mark.parametrize(
    ("used", "status"),
    [(69, "below"), (70, "within"), (80, "within"), (81, "above")],
)
def test_target_band_bounds_are_inclusive(used: int, status: str) -> None:
    """working_memory's 70-80% band: 70% and 80% are within, 69% below, 81% above."""
    manager = BudgetManager(100, {"working_memory": 1})
    manager.set_used("working_memory", used)
    assert manager.report().component("working_memory").status == status


# -- opt-in adaptation -----------------------------------------------------------------------


def test_adaptive_builder_writes_the_preset_and_uses_the_new_weights(tmp_path: Path) -> None:
    """Every 4 builds: working_memory (trimmed each time) +5, interaction_buffer (idle) -5."""
    path = tmp_path / "tuned.yaml"
    builder = AdaptiveBuilder(
        "agent-session", every=4, write_to=path, tokenizer=CharTokenizer(), max_tokens=2000
    )
    sections = {"working_memory": "\n".join(["w" * 19] * 300), "interaction_buffer": "hi"}
    for _ in range(4):
        before = builder.build(sections)
        assert before.section("working_memory").priority == pytest.approx(0.30)
    assert builder.adjustments == 1
    tuned = load_preset(path)
    assert tuned.name == "agent-session-adapted"
    assert tuned.max_tokens == 200_000  # inherited through extends
    assert tuned.weights() == pytest.approx(
        {
            "system_context": 0.10,
            "working_memory": 0.35,
            "knowledge_base": 0.20,
            "agent_context": 0.15,
            "interaction_buffer": 0.20,
        }
    )
    after = builder.build(sections)
    assert after.section("working_memory").priority == pytest.approx(0.35)
    for _ in range(3):  # the second window sees only its own builds: +5 / -5 again
        builder.build(sections)
    assert load_preset(path).weights()["working_memory"] == pytest.approx(0.40)
    assert builder.preset.weights()["interaction_buffer"] == pytest.approx(0.15)
    assert builder.tracker.sections["working_memory"].builds == 8


def test_adaptive_builder_refuses_bad_settings() -> None:
    """every must be >= 1; the preset must come from a file for the adjusted one to extend."""
    with pytest.raises(ConfigurationError, match="every"):
        AdaptiveBuilder("agent-session", every=0)
    with pytest.raises(ConfigurationError, match="no source file"):
        AdaptiveBuilder(Preset(name="inline"))


def test_set_shares_re_shares_the_total_and_keeps_what_each_holds() -> None:
    """New shares (e.g. from adjust_allocations) change each component's allocation of the same
    total; what a component holds stays (over its new share it is refused and called to clean
    up); other components are refused."""
    manager = BudgetManager(1_000, {"working_memory": 50.0, "knowledge_base": 50.0})
    manager.allocate("working_memory", 400)
    manager.set_shares({"working_memory": 25.0, "knowledge_base": 75.0})
    assert manager.limits == {"working_memory": 250, "knowledge_base": 750}
    assert manager.used["working_memory"] == 400
    assert manager.allocate("working_memory", 1).outcome == "denied"
    assert manager.report().component("working_memory").action == "cleanup"
    with pytest.raises(ConfigurationError, match="same components"):
        manager.set_shares({"working_memory": 1.0})
