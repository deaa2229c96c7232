"""SessionBudget behaviour, the same tests on every ledger: memory, SQLite and a real Redis."""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest

from ctxbudget import (
    BudgetEvent,
    BudgetExhausted,
    ConfigurationError,
    LedgerError,
    Quota,
    ReservationError,
    SessionBudget,
    ledger_from_url,
)


def events_of(budget: SessionBudget) -> list[tuple[str, str | None]]:
    seen: list[tuple[str, str | None]] = []
    for name in ("soft_warned", "exhausted", "reservation_expired"):
        budget.on(name, lambda e: seen.append((e.name, e.scope)))  # type: ignore[arg-type]
    return seen


def test_reserve_commit_records_usage_and_releases_the_hold(ledger_url: str) -> None:
    """A commit records actual usage, counts the call, and releases what was not used."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    reservation = budget.reserve(300, session="s1", user="u1", conversation="c1")
    held = budget.status("s1")
    assert (held.used, held.reserved, held.remaining) == (0, 300, 700)
    reservation.commit(input_tokens=120, output_tokens=80, model="gpt-4o")
    status = budget.status("s1")
    assert (status.used, status.reserved, status.remaining, status.calls) == (200, 0, 800, 1)
    assert (status.input_tokens, status.output_tokens) == (120, 80)
    assert status.cost == pytest.approx((120 * 2.50 + 80 * 10.00) / 1e6)
    assert status.state == "active"
    assert status.created is not None
    assert status.updated is not None
    for scope in ({"user": "u1"}, {"conversation": "c1"}, {"scope": "global"}):
        assert budget.status(**scope).used == 200


def test_refused_reservation_names_the_scope_and_holds_nothing(ledger_url: str) -> None:
    """BudgetExhausted carries scope, used, reserved, cap, requested; nothing is held."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    budget.reserve(600, session="s1")
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(500, session="s1")
    err = info.value
    assert (err.scope, err.used, err.reserved, err.cap, err.requested) == (
        "session:s1",
        0,
        600,
        1000,
        500,
    )
    assert err.available == 400
    assert "trim the prompt to at most 400 tokens" in str(err)
    assert budget.status("s1").reserved == 600
    assert budget.status(scope="global").reserved == 600


def test_the_first_scope_over_its_cap_refuses(ledger_url: str) -> None:
    """A user cap refuses even when the session has room; other scopes hold nothing."""
    budget = SessionBudget(ledger_url, session_cap=10_000, user_cap=500)
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(501, session="s1", user="u1")
    assert info.value.scope == "user:u1"
    assert budget.status("s1").reserved == 0


def test_commit_beyond_the_reservation_is_recorded_truthfully(ledger_url: str) -> None:
    """Using more than reserved is recorded as used and can exhaust the scope."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    with budget.reserve(100, session="s1") as r:
        r.commit(900, 300)
    status = budget.status("s1")
    assert (status.used, status.reserved, status.remaining, status.state) == (
        1200,
        0,
        0,
        "exhausted",
    )
    with pytest.raises(BudgetExhausted):
        budget.reserve(1, session="s1")


def test_double_commit_and_commit_after_rollback_are_errors(ledger_url: str) -> None:
    """A reservation settles once; nothing is recorded twice."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    r = budget.reserve(100, session="s1")
    r.commit(10, 10)
    with pytest.raises(ReservationError, match="committed"):
        r.commit(10, 10)
    with pytest.raises(ReservationError):
        r.rollback()
    r2 = budget.reserve(100, session="s1")
    r2.rollback()
    with pytest.raises(ReservationError, match="rolled back"):
        r2.commit(5, 5)
    status = budget.status("s1")
    assert (status.used, status.calls, status.reserved) == (20, 1, 0)


def test_ledger_refuses_a_second_settlement_from_another_handle(ledger_url: str) -> None:
    """The ledger itself knows a reservation is settled (not just the Python object)."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    r = budget.reserve(100, session="s1")
    r.commit(10, 0)
    with pytest.raises(ReservationError) as info:
        budget.ledger.commit(r.id, 10, 0, 0.0, 0.8)
    assert info.value.state == "committed"
    with pytest.raises(ReservationError) as info:
        budget.ledger.rollback("no-such-id")
    assert info.value.state == "unknown"
    assert budget.status("s1").used == 10


def test_context_manager_rolls_back_on_exception_and_when_not_committed(ledger_url: str) -> None:
    """Leaving the block by an exception, or without a commit, releases the hold."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    with pytest.raises(RuntimeError), budget.reserve(400, session="s1"):
        raise RuntimeError("provider error")
    with budget.reserve(300, session="s1") as r:
        pass
    assert r.state == "rolled_back"
    status = budget.status("s1")
    assert (status.used, status.reserved, status.calls) == (0, 0, 0)


def test_expired_lease_returns_to_the_pool_and_is_reported_once(ledger_url: str) -> None:
    """A manual reservation (no heartbeat) never renewed frees its tokens after its lease."""
    budget = SessionBudget(ledger_url, session_cap=1000, lease_s=0.3)
    seen = events_of(budget)
    forgotten = budget.reserve(900, session="s1", heartbeat=False)
    with pytest.raises(BudgetExhausted):
        budget.reserve(200, session="s1")
    time.sleep(0.5)
    budget.reserve(200, session="s1").rollback()  # reclaims the expired lease first
    assert seen.count(("reservation_expired", "session:s1")) == 1
    assert budget.status("s1").reserved == 0
    forgotten.commit(50, 0)  # spend is still recorded truthfully
    assert forgotten.lease_had_expired
    status = budget.status("s1")
    assert (status.used, status.reserved) == (50, 0)


def test_reap_reclaims_expired_leases(ledger_url: str) -> None:
    """reap() returns expired holds to the pool and reports how many."""
    budget = SessionBudget(ledger_url, session_cap=1000, lease_s=0.2)
    held = [
        budget.reserve(100, session="a", heartbeat=False),
        budget.reserve(200, session="b", heartbeat=False),
    ]
    time.sleep(0.4)
    assert budget.reap() == 2
    assert all(r.state == "active" for r in held)
    assert budget.status("a").reserved == 0
    assert budget.status("b").reserved == 0
    assert budget.reap() == 0


def test_soft_warn_and_exhausted_fire_once_each(ledger_url: str) -> None:
    """Crossing 80% warns once; reaching the cap exhausts once; states follow."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    seen = events_of(budget)
    budget.record(700, 0, session="s1")
    assert budget.status("s1").state == "active"
    assert seen == []
    budget.record(150, 0, session="s1")
    assert budget.status("s1").state == "near_cap"
    budget.record(10, 0, session="s1")
    assert seen == [("soft_warned", "session:s1")]
    budget.record(140, 0, session="s1")
    budget.record(5, 0, session="s1")
    assert budget.status("s1").state == "exhausted"
    assert seen == [("soft_warned", "session:s1"), ("exhausted", "session:s1")]


def test_a_scope_that_refuses_for_lack_of_room_is_exhausted_once(ledger_url: str) -> None:
    """At 900/1000, a 200-token call cannot fit: the scope is exhausted (state and one event),
    though used < cap; a refusal caused only by others' holds is not exhaustion."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    seen = events_of(budget)
    budget.record(900, 0, session="s1")
    assert budget.status("s1").state == "near_cap"
    held = budget.reserve(90, session="s1")
    with pytest.raises(BudgetExhausted):
        budget.reserve(50, session="s1")  # 100 left uncommitted: the hold is in the way
    assert budget.status("s1").state == "near_cap"
    assert ("exhausted", "session:s1") not in seen
    held.rollback()
    for _ in range(3):
        with pytest.raises(BudgetExhausted):
            budget.reserve(200, session="s1")
    status = budget.status("s1")
    assert (status.used, status.state) == (900, "exhausted")
    assert seen.count(("exhausted", "session:s1")) == 1
    with budget.reserve(100, session="s1") as r:  # what is left can still be spent
        r.commit(60, 40)
    assert seen.count(("exhausted", "session:s1")) == 1


def test_one_call_jumping_past_the_cap_fires_both_events(ledger_url: str) -> None:
    """From below 80% straight past the cap in one commit: soft warning, then exhausted."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    events: list[BudgetEvent] = []
    budget.on("soft_warned", events.append)
    budget.on("exhausted", events.append)
    budget.record(100, 0, session="s1")
    with budget.reserve(200, session="s1") as r:
        r.commit(1500, 0)
    assert [(e.name, e.scope) for e in events] == [
        ("soft_warned", "session:s1"),
        ("exhausted", "session:s1"),
    ]
    assert events[1].status is not None
    assert events[1].status.used == 1600


def test_daily_user_quota_is_a_scope_of_its_own(ledger_url: str) -> None:
    """A user's quota per UTC day refuses once the day's spend reaches it."""
    budget = SessionBudget(ledger_url, session_cap=None, user_quota=Quota(1000, "day"))
    budget.clock = lambda: 1_763_700_000.0  # 2025-11-21 04:40 UTC
    budget.record(900, 0, session="s1", user="u1")
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(200, session="s2", user="u1")
    assert info.value.scope == "user:u1@day:2025-11-21"
    assert budget.status(scope="user:u1@day:2025-11-21").used == 900
    budget.clock = lambda: 1_763_700_000.0 + 86_400  # the next day
    budget.reserve(200, session="s2", user="u1").rollback()


def test_tokens_per_minute_rate_limit(ledger_url: str) -> None:
    """A user's tokens per clock minute refuse within the minute and free up in the next."""
    budget = SessionBudget(ledger_url, session_cap=None, user_tokens_per_minute=500)
    budget.clock = lambda: 60.0 * 29_000_000 + 5
    budget.reserve(300, session="a", user="u1").commit(300, 0)
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(300, session="b", user="u1")
    assert info.value.scope == "rate:user:u1@29000000"
    budget.clock = lambda: 60.0 * 29_000_001 + 1
    budget.reserve(300, session="b", user="u1").rollback()


def test_global_cap_and_system_session(ledger_url: str) -> None:
    """Background work in the system session skips the session cap but not the global one."""
    budget = SessionBudget(ledger_url, session_cap=100, global_cap=1000)
    budget.reserve(500, session=SessionBudget.SYSTEM_SESSION).commit(500, 0)
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(600, session=SessionBudget.SYSTEM_SESSION)
    assert info.value.scope == "global"
    assert budget.status(scope="global").used == 500


def test_sessions_list_and_reset(ledger_url: str) -> None:
    """sessions() lists the kept sessions; reset() forgets one's spend."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    budget.record(10, 0, session="b")
    budget.record(20, 0, session="a")
    assert budget.sessions() == ["a", "b"]
    assert budget.reset("a")
    assert not budget.reset("a")
    assert budget.sessions() == ["b"]
    assert budget.status("a").used == 0


def test_retention_forgets_idle_scopes(ledger_url: str) -> None:
    """Scopes past their retention are deleted by the reaper."""
    budget = SessionBudget(ledger_url, session_cap=1000, retention_s=1)
    budget.record(10, 0, session="old")
    time.sleep(2.2)
    budget.reap()
    assert budget.sessions() == []


def test_unused_scope_reads_as_zero_with_its_cap(ledger_url: str) -> None:
    """A session never seen has zero spend and the configured cap."""
    status = SessionBudget(ledger_url, session_cap=1234).status("new")
    assert (status.used, status.reserved, status.remaining, status.cap) == (0, 0, 1234, 1234)
    assert status.created is None


@pytest.mark.parametrize("tokens", [-1, 0, math.nan, math.inf, True, 1.5, "10", 2**48 + 1, None])
def test_bad_token_counts_are_refused_and_nothing_is_recorded(
    ledger_url: str, tokens: object
) -> None:
    """Negative, zero, NaN, bool, fractional, huge token counts: a clear error, no spend."""
    budget = SessionBudget(ledger_url, session_cap=1000)
    with pytest.raises(ConfigurationError, match="tokens"):
        budget.reserve(tokens, session="s1")  # type: ignore[arg-type]
    r = budget.reserve(10, session="s1")
    if tokens != 0:
        with pytest.raises(ConfigurationError, match="input_tokens"):
            r.commit(tokens, 0)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="output_tokens"):
            budget.record(0, tokens, session="s1")  # type: ignore[arg-type]
    r.rollback()
    status = budget.status("s1")
    assert (status.used, status.reserved, status.calls) == (0, 0, 0)


@pytest.mark.parametrize("session", ["", "x" * 257, "a\nb", 42, None])
def test_bad_ids_are_refused(session: object) -> None:
    """Empty, overlong, multi-line or non-string ids are refused with the value named."""
    budget = SessionBudget("memory://")
    with pytest.raises(ConfigurationError, match="session"):
        budget.reserve(10, session=session)  # type: ignore[arg-type]


def test_unknown_ledger_scheme_lists_the_known_ones() -> None:
    """An unknown scheme is a ConfigurationError naming memory, redis and sqlite."""
    with pytest.raises(ConfigurationError) as info:
        ledger_from_url("mongodb://localhost")
    assert "memory://" in str(info.value)
    assert "redis://" in str(info.value)
    assert "sqlite://" in str(info.value)


def test_corrupted_sqlite_file_is_a_ledger_error_naming_it(tmp_path: Path) -> None:
    """A file that is not a SQLite database fails clearly, with its path, and is left alone."""
    path = tmp_path / "spend.db"
    path.write_bytes(b"this is not a database" * 200)
    with pytest.raises(LedgerError, match=r"spend\.db"):
        SessionBudget(f"sqlite:///{path}")
    assert path.read_bytes() == b"this is not a database" * 200


def test_redis_down_fails_closed_by_default() -> None:
    """With Redis unreachable, reservations fail with a LedgerError saying what to do."""
    budget = SessionBudget("redis://127.0.0.1:1/0?timeout=0.5")
    with pytest.raises(LedgerError, match="failing closed"):
        budget.reserve(10, session="s1")


def test_redis_down_can_fail_open() -> None:
    """With fail_open, a reservation goes through unchecked and its commit is skipped."""
    budget = SessionBudget("redis://127.0.0.1:1/0?timeout=0.5&fail_open=true")
    with budget.reserve(10, session="s1") as r:
        r.commit(5, 5)
    assert r.state == "committed"


def test_unknown_event_name_is_refused() -> None:
    """on() names the known events when given another."""
    with pytest.raises(ConfigurationError, match="soft_warned"):
        SessionBudget("memory://").on("overspend", print)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://localhost:6379/0?timeout=abc", "timeout='abc' is not a number"),
        ("redis://localhost:6379/0?timeout=-1", "timeout='-1' must be a positive number"),
        ("redis://localhost:6379/0?fail_open=maybe", "fail_open='maybe' must be true or false"),
        ("redis://:s3cret@localhost/0?timout=2", "unknown URL option 'timout'"),
        ("sqlite:///spend.db?synchronous=fast", "synchronous='fast' must be one of"),
        ("sqlite:///spend.db?journal=wal", "unknown URL option 'journal'; known options: synch"),
    ],
)
def test_bad_url_options_name_the_option_in_one_line(url: str, message: str) -> None:
    """A bad ledger URL option is a one-line ConfigurationError naming it, never a traceback
    from float() or a silently ignored typo; passwords stay out of the message."""
    with pytest.raises(ConfigurationError, match=re.escape(message)) as info:
        ledger_from_url(url)
    assert "s3cret" not in str(info.value)
    assert "\n" not in str(info.value)


def test_user_ids_with_separators_never_reach_another_scope(ledger_url: str) -> None:
    """User 'bob@day:<today>' spends into its own scopes, not into bob's daily quota."""
    from datetime import datetime, timezone

    budget = SessionBudget(ledger_url, session_cap=None, user_quota=Quota(1000, "day"))
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    budget.record(900, 0, session="s-evil", user=f"bob@day:{today}")
    with budget.reserve(1000, session="s-bob", user="bob") as r:  # bob's quota is untouched
        r.commit(10, 0)
    assert budget.status(user="bob").used == 10
    assert budget.status(user=f"bob@day:{today}").used == 900


@pytest.mark.parametrize(
    "session_id", ["a:b", "a@b", "a%3Ab", "%", "session:x", "ü:🙂@%40", "rate:session:s@1"]
)
def test_session_ids_with_every_separator_round_trip(ledger_url: str, session_id: str) -> None:
    """Ids holding ':', '@', '%' and unicode are listed, read and reset as given."""
    budget = SessionBudget(ledger_url, session_cap=100)
    budget.record(7, 0, session=session_id)
    budget.record(1, 0, session="plain")
    assert session_id in budget.sessions()
    assert budget.status(session_id).used == 7
    assert budget.reset(session_id)
    assert budget.status("plain").used == 1


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_sqlite_file_deleted_or_replaced_while_open_is_a_ledger_error(
    tmp_path: Path, how: str
) -> None:
    """A process whose ledger file was unlinked (or swapped for a new one) must not keep
    writing spend that no other process sees: its next step raises, naming the file."""
    path = tmp_path / "spend.db"
    budget = SessionBudget(f"sqlite:///{path}", session_cap=1000)
    budget.record(100, 0, session="s1")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if how == "replaced":
        other = SessionBudget(f"sqlite:///{path}", session_cap=1000)
        other.record(1, 0, session="s2")
        other.close()
    with pytest.raises(LedgerError, match=r"spend\.db.*deleted or replaced"):
        budget.reserve(10, session="s1")
    with pytest.raises(LedgerError, match="deleted or replaced"):
        budget.status("s1")
    budget.close()
