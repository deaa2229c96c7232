"""Allocation of the cap by priority weight (water-filling), floors, ceilings and rounding."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctxbudget import ConfigurationError, RequiredSectionsExceedCap, allocate

REFERENCE = {
    "summaries": 0.25,
    "userProfile": 0.15,
    "userFacts": 0.15,
    "entities": 0.15,
    "graph": 0.10,
    "decisions": 0.10,
    "learnings": 0.05,
    "procedures": 0.05,
}


def test_reference_weights_give_proportional_shares_at_16k() -> None:
    """The reference weights split a 16,000-token cap exactly by weight."""
    assert allocate(16_000, REFERENCE) == {
        "summaries": 4000,
        "userProfile": 2400,
        "userFacts": 2400,
        "entities": 2400,
        "graph": 1600,
        "decisions": 1600,
        "learnings": 800,
        "procedures": 800,
    }


def test_agent_session_weights_split_200k() -> None:
    """The five-component agent-session weights split 200,000 tokens as in the reference."""
    weights = {
        "system_context": 0.10,
        "working_memory": 0.30,
        "knowledge_base": 0.20,
        "agent_context": 0.15,
        "interaction_buffer": 0.25,
    }
    assert allocate(200_000, weights) == {
        "system_context": 20_000,
        "working_memory": 60_000,
        "knowledge_base": 40_000,
        "agent_context": 30_000,
        "interaction_buffer": 50_000,
    }


def test_small_section_keeps_only_its_need_and_surplus_is_shared_by_weight() -> None:
    """A section needing less than its share frees the rest for the others, by weight."""
    out = allocate(1000, {"a": 0.5, "b": 0.3, "c": 0.2}, demands={"a": 100})
    assert out["a"] == 100
    # 900 left for b and c in the ratio 3:2
    assert out == {"a": 100, "b": 540, "c": 360}


def test_redistribution_cascades_when_a_second_section_saturates() -> None:
    """Surplus from one section can saturate another, whose surplus flows on again."""
    out = allocate(1000, {"a": 1, "b": 1, "c": 1}, demands={"a": 100, "b": 400})
    assert out == {"a": 100, "b": 400, "c": 500}


def test_everything_fits_gives_every_demand() -> None:
    """When total demand is within the cap, every section gets exactly its demand."""
    assert allocate(100, {"a": 1, "b": 9}, demands={"a": 30, "b": 20}) == {"a": 30, "b": 20}


def test_min_tokens_floor_is_honoured_and_the_rest_shared() -> None:
    """A floor is served first; the rest is shared by weight among the others."""
    out = allocate(1000, {"big": 0.9, "small": 0.1}, min_tokens={"small": 400})
    assert out == {"big": 600, "small": 400}


def test_floors_of_lowest_priority_are_given_up_when_floors_do_not_fit() -> None:
    """When floors exceed the cap, the lowest priority loses its floor first."""
    out = allocate(100, {"hi": 0.6, "lo": 0.4}, min_tokens={"hi": 80, "lo": 80})
    assert out["hi"] >= 80
    assert sum(out.values()) <= 100


def test_max_tokens_ceiling_caps_a_section_and_frees_the_rest() -> None:
    """A ceiling stops a section; the others take what it leaves."""
    out = allocate(1000, {"a": 0.9, "b": 0.1}, max_tokens={"a": 200})
    assert out == {"a": 200, "b": 800}


def test_required_section_gets_its_whole_demand() -> None:
    """A required section's floor is its whole demand, however low its weight."""
    out = allocate(1000, {"a": 0.99, "req": 0.01}, demands={"req": 700}, required=["req"])
    assert out == {"a": 300, "req": 700}


def test_required_sections_exceeding_the_cap_raise_with_numbers() -> None:
    """Required demands above the cap raise an error carrying needed and cap."""
    with pytest.raises(RequiredSectionsExceedCap) as info:
        allocate(100, {"a": 1, "b": 1}, demands={"a": 80, "b": 40}, required=["a", "b"])
    assert info.value.needed == 120
    assert info.value.cap == 100
    assert info.value.sections == ("a", "b")
    assert "raise max_tokens to at least 120" in str(info.value)


def test_zero_weight_sections_get_only_what_weighted_ones_leave() -> None:
    """A zero-weight section gets nothing until weighted sections are satisfied."""
    assert allocate(100, {"a": 1, "z": 0}) == {"a": 100, "z": 0}
    assert allocate(100, {"a": 1, "z": 0}, demands={"a": 30}) == {"a": 30, "z": 70}


def test_strict_strategy_serves_highest_priority_whole_first() -> None:
    """Strict allocation fills sections in priority order."""
    out = allocate(
        100, {"lo": 0.1, "hi": 0.9, "mid": 0.5}, demands={"hi": 60, "mid": 30}, strategy="strict"
    )
    assert out == {"lo": 10, "hi": 60, "mid": 30}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cap": -1}, "cap"),
        ({"cap": 1.5}, "cap"),
        ({"cap": True}, "cap"),
        ({"weights": {"a": -1}}, "'a'"),
        ({"weights": {"a": math.nan}}, "'a'"),
        ({"weights": {"a": math.inf}}, "'a'"),
        ({"strategy": "fair"}, "strategy"),
    ],
)
def test_bad_arguments_raise_budget_error_naming_them(kwargs: dict, message: str) -> None:
    """Negative or non-integral caps, bad weights and unknown strategies are rejected."""
    args = {"cap": 100, "weights": {"a": 1.0, "b": 2.0}, "demands": {"a": 500, "b": 500}}
    args.update(kwargs)
    cap = args.pop("cap")
    weights = args.pop("weights")
    with pytest.raises(ConfigurationError, match=message):
        allocate(cap, weights, **args)


names = st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=8, unique=True)


@st.composite
def problems(draw: st.DrawFn) -> tuple[int, dict, dict, dict, dict]:
    keys = draw(names)
    weights = {k: draw(st.one_of(st.just(0.0), st.floats(1e-3, 10))) for k in keys}
    demands = {k: draw(st.one_of(st.none(), st.integers(0, 5000))) for k in keys}
    mins = {k: draw(st.integers(0, 800)) for k in keys if draw(st.booleans())}
    maxs = {k: draw(st.integers(0, 3000)) for k in keys if draw(st.booleans())}
    for k in list(mins):
        if k in maxs and mins[k] > maxs[k]:
            del mins[k]
    return draw(st.integers(0, 20_000)), weights, demands, mins, maxs


@given(problems(), st.sampled_from(["weighted", "strict"]))
def test_allocation_never_exceeds_cap_and_respects_bounds(problem: tuple, strategy: str) -> None:
    """For any weights, demands and bounds: sum <= cap, each within its ceiling."""
    cap, weights, demands, mins, maxs = problem
    out = allocate(
        cap, weights, demands=demands, min_tokens=mins, max_tokens=maxs, strategy=strategy
    )  # type: ignore[arg-type]
    assert sum(out.values()) <= cap
    assert list(out) == list(weights)
    for k, v in out.items():
        assert v >= 0
        if demands[k] is not None:
            assert v <= demands[k]
        if k in maxs:
            assert v <= maxs[k]


@given(problems())
def test_weighted_allocation_is_fair_by_weight(problem: tuple) -> None:
    """A section short of its ceiling never gets less per unit of weight than a lower one.

    (Up to one token of rounding on each side, and except where a section is held up by its floor.)
    """
    cap, weights, demands, mins, maxs = problem
    out = allocate(cap, weights, demands=demands, min_tokens=mins, max_tokens=maxs)
    ceilings = {
        k: min(x for x in (demands[k], maxs.get(k)) if x is not None)
        if demands[k] is not None or k in maxs
        else math.inf
        for k in weights
    }
    for i in weights:
        if out[i] >= ceilings[i] or weights[i] == 0:
            continue  # i is satisfied: nothing to compare
        for j in weights:
            if j == i or weights[j] == 0 or out[j] <= mins.get(j, 0):
                continue
            assert (out[j] - 1) / weights[j] <= (out[i] + 1) / weights[i] + 1e-6


@given(problems())
def test_allocation_uses_the_whole_cap_when_demand_exceeds_it(problem: tuple) -> None:
    """When unsatisfied demand remains, no token of the cap is left unallocated."""
    cap, weights, demands, mins, maxs = problem
    out = allocate(cap, weights, demands=demands, min_tokens=mins, max_tokens=maxs)
    ceilings = [
        min([x for x in (demands[k], maxs.get(k)) if x is not None], default=math.inf)
        for k in weights
    ]
    if sum(ceilings) > cap:
        assert sum(out.values()) == cap
