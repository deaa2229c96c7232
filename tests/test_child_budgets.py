"""Nested budgets: a child spends within its own cap and every ancestor's, atomically."""

from __future__ import annotations

import contextlib
import threading

import pytest

from ctxbudget import BudgetExhausted, ConfigurationError, SessionBudget, guard


def test_a_child_spends_in_itself_and_its_session(ledger_url: str) -> None:
    """What a child commits counts in its own scope and in the session's, at once."""
    budget = SessionBudget(ledger_url, session_cap=1_000)
    child = budget.child("s1", "search", cap=400)
    child.reserve(300).commit(200, 50)
    assert child.status().used == 250
    assert child.status().cap == 400
    assert budget.status("s1").used == 250
    assert child.scope == "session:s1:search"
    budget.close()


def test_a_child_cannot_outspend_its_parent(ledger_url: str) -> None:
    """A child with a larger cap than its session is refused by the session's cap; a child is
    refused by its own cap; nothing is held either way."""
    budget = SessionBudget(ledger_url, session_cap=1_000)
    budget.reserve(700, session="s1").commit(700, 0)
    roomy = budget.child("s1", "roomy", cap=5_000)
    with pytest.raises(BudgetExhausted) as refused:
        roomy.reserve(400)
    assert refused.value.scope == "session:s1"
    small = budget.child("s1", "small", cap=100)
    with pytest.raises(BudgetExhausted) as own:
        small.reserve(150)
    assert own.value.scope == "session:s1:small"
    assert budget.status("s1").reserved == 0
    budget.close()


def test_grandchildren_count_in_every_ancestor_and_the_tree_shows_them(ledger_url: str) -> None:
    """A grandchild's commit counts in it, its parent child and the session; tree() lists the
    session then every descendant; sessions() lists only real sessions."""
    budget = SessionBudget(ledger_url, session_cap=10_000)
    agent = budget.child("s1", "agent", cap=5_000)
    tool = agent.child("fetch", cap=1_000)
    tool.reserve(500).commit(400, 0)
    agent.reserve(100).commit(100, 0)
    assert (tool.status().used, agent.status().used, budget.status("s1").used) == (400, 500, 500)
    assert [s.scope for s in budget.tree("s1")] == [
        "session:s1",
        "session:s1:agent",
        "session:s1:agent:fetch",
    ]
    assert [s.scope for s in agent.tree()] == ["session:s1:agent", "session:s1:agent:fetch"]
    assert budget.sessions() == ["s1"]
    budget.close()


def test_ids_with_separators_stay_in_their_own_scope() -> None:
    """A child named with ':' or '@' cannot reach another child's or session's scope."""
    budget = SessionBudget("memory://", session_cap=1_000)
    odd = budget.child("s1", "a:b", cap=100)
    plain = budget.child("s1", "a", cap=100).child("b", cap=100)
    assert odd.scope != plain.scope
    odd.reserve(80).commit(80, 0)
    assert plain.status().used == 0
    assert budget.child("s1:x", "y").scope == "session:s1%3Ax:y"


def test_guard_runs_through_a_child() -> None:
    """guard(child, ...) reserves and commits in the child and its session; another session
    id is refused with one line."""
    budget = SessionBudget("memory://", session_cap=1_000)
    child = budget.child("s1", "tool", cap=500)
    guard(
        child,
        lambda: (100, 20),
        prompt="hi",
        max_output_tokens=50,
        session="s1",  # type: ignore[arg-type]
        usage=lambda r: r,
    )
    assert (child.status().used, budget.status("s1").used) == (120, 120)
    with pytest.raises(ConfigurationError, match="belongs to session 's1'"):
        child.reserve(10, session="s2")


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_a_bad_child_cap_is_refused(bad: object) -> None:
    """A cap that is not a whole number >= 1 is a one-line ConfigurationError."""
    with pytest.raises(ConfigurationError, match="cap"):
        SessionBudget("memory://").child("s1", "c", cap=bad)  # type: ignore[arg-type]


def test_children_racing_one_parent_never_overspend_it(ledger_url: str) -> None:
    """8 threads spending through two children of one session (each child capped above the
    session) never take the session past its cap."""
    budget = SessionBudget(ledger_url, session_cap=2_000)
    kids = [budget.child("s1", f"k{i}", cap=5_000) for i in range(2)]
    barrier = threading.Barrier(8)

    def spend(i: int) -> None:
        barrier.wait(timeout=30)
        for _ in range(20):
            with contextlib.suppress(BudgetExhausted):
                kids[i % 2].reserve(60).commit(60, 0)

    threads = [threading.Thread(target=spend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    used = budget.status("s1").used
    assert used <= 2_000
    assert used == sum(k.status().used for k in kids)
    assert used >= 2_000 - 60  # it filled up: the refusals were real
    budget.close()


def test_a_child_reserves_through_the_async_api(ledger_url: str) -> None:
    """child.areserve holds in the child and its session in one step, refuses past the child's
    cap, and aguard runs through a child as guard does."""
    import asyncio

    from ctxbudget import aguard

    budget = SessionBudget(ledger_url, session_cap=1_000)
    child = budget.child("s1", "tool", cap=300)

    async def main() -> None:
        held = await child.areserve(200)
        with pytest.raises(BudgetExhausted) as refused:
            await child.areserve(150)
        assert refused.value.scope == "session:s1:tool"
        await held.acommit(120, 30)

        async def call() -> dict[str, dict[str, int]]:
            return {"usage": {"prompt_tokens": 40, "completion_tokens": 10}}

        await aguard(child, call, prompt="hi", max_output_tokens=20, session="s1")
        assert (await budget.astatus("s1")).used == 200
        assert (await budget.astatus(scope="session:s1:tool")).used == 200
        await budget.aclose()

    asyncio.run(main())
