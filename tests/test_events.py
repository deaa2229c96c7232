"""The `committed` event: every commit tells any sink what it spent, where, on which model,
at what cost, before the events the commit caused."""

from __future__ import annotations

import time

import pytest

from ctxbudget import BudgetEvent, SessionBudget, count_prompt, guard

PRICES = {"m-1": (1.0, 2.0)}  # USD per 1M input / output tokens


@pytest.fixture
def budget() -> SessionBudget:
    return SessionBudget("memory://", session_cap=1000, user_cap=5000, prices=PRICES)


def test_committed_fires_on_commit_with_scopes_usage_model_and_cost(budget: SessionBudget) -> None:
    """One event per commit, with the numbers the caller committed."""
    seen: list[BudgetEvent] = []
    budget.on("committed", seen.append)
    with budget.reserve(400, session="s1", user="u1", conversation="c1") as r:
        r.commit(300, 50, "m-1", cached_input_tokens=100)
    (event,) = seen
    assert (event.name, event.scope, event.reservation_id, event.tokens) == (
        "committed",
        "session:s1",
        r.id,
        350,
    )
    detail = dict(event.detail or {})
    assert set(detail.pop("scopes")) == {"session:s1", "user:u1", "conversation:c1", "global"}
    assert detail.pop("cost") > 0  # the exact price: the next test, without cached tokens
    assert detail == {
        "input_tokens": 300,
        "output_tokens": 50,
        "cached_input_tokens": 100,
        "cache_write_tokens": 0,
        "model": "m-1",
        "lease_had_expired": False,
    }


def test_committed_cost_is_the_price_table_and_none_for_an_unknown_model(
    budget: SessionBudget,
) -> None:
    """The cost is what the budget's prices say: 1 and 2 USD per million; unknown is None."""
    seen: list[BudgetEvent] = []
    budget.on("committed", seen.append)
    with budget.reserve(400, session="s1") as r:
        r.commit(300, 50, "m-1")
    with budget.reserve(400, session="s1") as r:
        r.commit(10, 10, "no-such-model-xyz")
    assert [(e.detail or {})["cost"] for e in seen] == [pytest.approx(0.0004), None]


def test_committed_fires_before_the_soft_warning_it_caused(budget: SessionBudget) -> None:
    """A sink sees the spend first, then what it crossed."""
    order: list[str] = []
    for name in ("committed", "soft_warned", "exhausted"):
        budget.on(name, lambda e: order.append(e.name))  # type: ignore[arg-type]
    with budget.reserve(900, session="s1") as r:
        r.commit(850, 0)
    with budget.reserve(150, session="s1") as r:
        r.commit(150, 0)
    assert order == ["committed", "soft_warned", "committed", "exhausted"]


def test_committed_reports_a_commit_after_the_lease_ran_out() -> None:
    """A late commit is still recorded, and the event says its lease had expired."""
    spend = SessionBudget("memory://", session_cap=1000, lease_s=0.05)
    seen: list[BudgetEvent] = []
    spend.on("committed", seen.append)
    held = spend.reserve(100, session="s1", heartbeat=False)
    time.sleep(0.15)
    spend.reap()
    held.commit(60, 20)
    (event,) = seen
    assert (event.tokens, (event.detail or {})["lease_had_expired"]) == (80, True)


def test_guard_commits_fire_committed_also_for_a_call_that_raised(budget: SessionBudget) -> None:
    """guard's commit, and its bill_on_error settlement of a failed call, are both events."""
    seen: list[BudgetEvent] = []
    budget.on("committed", seen.append)
    reply = {"usage": {"prompt_tokens": 40, "completion_tokens": 12}}
    guard(budget, lambda: reply, prompt="hi", max_output_tokens=50, session="s1", model="m-1")

    def broken() -> object:
        raise ConnectionError("dropped")

    with pytest.raises(ConnectionError):
        guard(budget, broken, prompt="hello", max_output_tokens=50, session="s1")
    first, failed = seen
    assert ((first.detail or {})["input_tokens"], (first.detail or {})["output_tokens"]) == (40, 12)
    assert (failed.detail or {})["output_tokens"] == 0
    assert (failed.detail or {})["input_tokens"] == count_prompt("hello", budget.tokenizer) > 0


@pytest.mark.parametrize("step", ["record", "charge"])
def test_committed_fires_on_record_and_charge(budget: SessionBudget, step: str) -> None:
    """Usage recorded or charged without a reservation is a committed event too."""
    seen: list[BudgetEvent] = []
    budget.on("committed", seen.append)
    getattr(budget, step)(70, 30, session="s1", model="m-1")
    (event,) = seen
    assert (event.tokens, event.reservation_id is None) == (100, step == "record")
    assert (event.detail or {})["model"] == "m-1"
