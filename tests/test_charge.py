"""SessionBudget.charge (a capped spend of usage known before the call) and the cache of
scope limits, on every ledger."""

from __future__ import annotations

import pytest

from ctxbudget import BudgetExhausted, ConfigurationError, Quota, SessionBudget


def test_charge_records_like_a_commit(ledger_url: str) -> None:
    """A charge that fits is recorded in every scope as a commit of the same usage is."""
    budget = SessionBudget(ledger_url, session_cap=1000, user_cap=5000)
    budget.charge(120, 80, session="s1", user="u1", conversation="c1", model="gpt-4o")
    status = budget.status("s1")
    assert (status.used, status.reserved, status.calls) == (200, 0, 1)
    assert (status.input_tokens, status.output_tokens) == (120, 80)
    assert status.cost == pytest.approx((120 * 2.50 + 80 * 10.00) / 1e6)
    for scope in ({"user": "u1"}, {"conversation": "c1"}, {"scope": "global"}):
        assert budget.status(**scope).used == 200


def test_charge_over_a_cap_is_refused_and_records_nothing(ledger_url: str) -> None:
    """Refused as a reserve of input + output would be: the scope is named, nothing moves."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    budget.charge(500, 400, session="s1")
    with pytest.raises(BudgetExhausted) as info:
        budget.charge(60, 50, session="s1")
    err = info.value
    assert (err.scope, err.used, err.cap, err.requested) == ("session:s1", 900, 1000, 110)
    status = budget.status("s1")
    assert (status.used, status.reserved, status.calls) == (900, 0, 1)
    assert budget.status(scope="global").used == 900


def test_charge_counts_open_reservations_against_the_cap(ledger_url: str) -> None:
    """Tokens held by a live reservation are not available to a charge."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    held = budget.reserve(700, session="s1")
    with pytest.raises(BudgetExhausted):
        budget.charge(200, 101, session="s1")
    budget.charge(200, 100, session="s1")
    held.commit(100, 0)
    status = budget.status("s1")
    assert (status.used, status.reserved, status.calls) == (400, 0, 2)


def test_charge_fires_soft_warned_and_exhausted(ledger_url: str) -> None:
    budget = SessionBudget(ledger_url, session_cap=1000, soft_warn_ratio=0.5)
    seen: list[str] = []
    budget.on("soft_warned", lambda e: seen.append(e.name))
    budget.on("exhausted", lambda e: seen.append(e.name))
    budget.charge(600, 0, session="s1")
    assert seen == ["soft_warned"]
    budget.charge(400, 0, session="s1")
    assert seen == ["soft_warned", "exhausted"]


def test_charge_checks_its_counts() -> None:
    budget = SessionBudget("memory://", session_cap=1000)
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(ConfigurationError, match="input_tokens"):
            budget.charge(bad, 0, session="s1")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="cached_input_tokens"):
        budget.charge(10, 0, session="s1", cached_input_tokens=11)
    assert budget.status("s1").used == 0


def test_changed_caps_apply_to_the_next_call() -> None:
    """Limits are cached per call shape; a cap changed on the budget is never read stale."""
    budget = SessionBudget("memory://", session_cap=1000)
    budget.reserve(100, session="s1").commit(100, 0)
    budget.session_cap = 150
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(100, session="s1")
    assert info.value.cap == 150
    budget.reserve(40, session="s2", user="u1").commit(40, 0)  # limits cached without a quota
    budget.user_quota = Quota(50)
    budget.reserve(40, session="s2", user="u1").commit(40, 0)  # counts in the new quota
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(20, session="s2", user="u1")
    assert info.value.scope.startswith("user:u1@day:")


def test_the_minute_moves_the_rate_window() -> None:
    """A new clock minute gives a new rate scope, so cached limits follow the clock."""
    now = [1_700_000_000.0]
    budget = SessionBudget("memory://", session_cap=None, session_tokens_per_minute=100)
    budget.clock = lambda: now[0]
    budget.reserve(100, session="s1").commit(100, 0)
    with pytest.raises(BudgetExhausted):
        budget.reserve(1, session="s1")
    now[0] += 60
    budget.reserve(100, session="s1").commit(100, 0)
    assert budget.status("s1").used == 200


@pytest.mark.parametrize("session", ["", "a\nb", "x" * 257, 7, None])
def test_bad_ids_are_refused_every_time(session: object) -> None:
    """The cache never lets an invalid id through, on the first call or a later one."""
    budget = SessionBudget("memory://", session_cap=1000)
    for _ in range(2):
        with pytest.raises(ConfigurationError, match="session"):
            budget.reserve(10, session=session)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="session"):
            budget.charge(10, 0, session=session)  # type: ignore[arg-type]
