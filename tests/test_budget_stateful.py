"""Hypothesis stateful tests of SessionBudget on every ledger.

Random interleavings of reserve, commit (within or beyond the hold), rollback, renew, lease
expiry, reap and late commits. After every step:

- the ledger's ``used`` of each scope equals the sum of the commits and records that
  returned (nothing lost, nothing counted twice);
- ``used + reserved`` is over a cap by at most the scope's ``overspent`` counter, which equals
  the sum of the ``overspent`` events; with no late commit and no commit beyond its hold it
  is never over at all;
- ``reserved`` is at least the tokens of live holds still within their lease, and at most
  the tokens of every unsettled hold; a heartbeated holder never loses its hold.

Memory and SQLite run on a fake clock; Redis keeps time itself, so its leases are short and
time passes by sleeping.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
)

from ctxbudget import BudgetEvent, BudgetExhausted, ReservationError, SessionBudget
from ctxbudget.session.ledgers import Ledger, MemoryLedger, SQLiteLedger

SESSION_CAP = 1000
USER_CAP = 1500
SESSIONS = ("a", "b")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Holder:
    def __init__(self, reservation: Any, session: str, expires: float, heartbeat: bool) -> None:
        self.r = reservation
        self.session = session
        self.expires = expires  # when its lease ends, on the ledger's clock
        self.heartbeat = heartbeat


class BudgetMachine(RuleBasedStateMachine):
    """Subclasses set ``kind``; ``lease`` is in the ledger's seconds."""

    kind = "memory"
    lease = 10.0

    holders = Bundle("holders")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        ledger: Ledger | str
        if self.kind == "memory":
            ledger = MemoryLedger(clock=self.clock)
        elif self.kind == "sqlite":
            self.tmp = tempfile.TemporaryDirectory()
            ledger = SQLiteLedger(Path(self.tmp.name) / "l.db", clock=self.clock)
        else:
            ledger = f"{REDIS['url']}?prefix=stateful-{uuid.uuid4().hex[:12]}:"
        self.budget = SessionBudget(
            ledger, session_cap=SESSION_CAP, user_cap=USER_CAP, lease_s=self.lease
        )
        self.budget.clock = self.clock if self.kind != "redis" else time.time
        self.overspent_events: dict[str, int] = {}
        self.budget.on("overspent", self._on_overspent)
        self.committed: dict[str, int] = {f"session:{s}": 0 for s in SESSIONS}
        self.committed["user:u"] = 0
        self.open: list[Holder] = []
        self.late_or_over = False

    def _on_overspent(self, event: BudgetEvent) -> None:
        assert event.scope is not None
        assert event.tokens is not None
        self.overspent_events[event.scope] = (
            self.overspent_events.get(event.scope, 0) + event.tokens
        )

    def now(self) -> float:
        return self.clock.now if self.kind != "redis" else time.time()

    def teardown(self) -> None:
        for h in self.open:
            if h.r.state == "active":
                h.r.rollback()
        self.budget.close()
        if self.tmp is not None:
            self.tmp.cleanup()

    # -- rules -------------------------------------------------------------------------------

    @rule(
        target=holders,
        tokens=st.integers(1, 700),
        session=st.sampled_from(SESSIONS),
        heartbeat=st.booleans(),
    )
    def reserve(self, tokens: int, session: str, heartbeat: bool) -> Any:
        try:
            r = self.budget.reserve(tokens, session=session, user="u", heartbeat=heartbeat)
        except BudgetExhausted as exc:
            status = self.budget.status(scope=exc.scope)
            assert status.cap is not None
            assert status.used + status.reserved + tokens > status.cap
            return None
        h = Holder(r, session, self.now() + self.lease, heartbeat)
        self.open.append(h)
        return h

    def _settled(self, h: Holder) -> None:
        self.open.remove(h)

    @rule(h=consumes(holders), share=st.floats(0, 1), beyond=st.integers(0, 300))
    def commit(self, h: Holder | None, share: float, beyond: int) -> None:
        if h is None or h.r.state != "active":
            return
        spent = int(h.r.tokens * share) + beyond
        h.r.commit(spent // 2, spent - spent // 2)
        if h.heartbeat:
            assert not h.r.lease_had_expired, "a heartbeated holder lost its hold"
        if h.r.lease_had_expired or spent > h.r.tokens:
            self.late_or_over = True
        self.committed[f"session:{h.session}"] += spent
        self.committed["user:u"] += spent
        self._settled(h)

    @rule(h=consumes(holders))
    def rollback(self, h: Holder | None) -> None:
        if h is None or h.r.state != "active":
            return
        h.r.rollback()
        self._settled(h)

    @rule(h=holders)
    def renew(self, h: Holder | None) -> None:
        if h is None or h.r.state != "active":
            return
        try:
            h.r.renew()
        except ReservationError as exc:
            assert exc.state == "expired"  # noqa: PT017 - a rule, not a test: no pytest.raises
            assert not h.heartbeat
            assert self.now() >= h.expires  # only a lease that ran out is lost
            return
        h.expires = self.now() + self.lease

    @rule(session=st.sampled_from(SESSIONS), tokens=st.integers(0, 200))
    def record(self, session: str, tokens: int) -> None:
        self.budget.record(tokens, 0, session=session, user="u")
        self.committed[f"session:{session}"] += tokens
        self.committed["user:u"] += tokens
        self.late_or_over = self.late_or_over or tokens > 0

    @rule(seconds=st.sampled_from([0.2, 0.5, 1.1]))
    def time_passes(self, seconds: float) -> None:
        if self.kind == "redis":
            time.sleep(seconds * self.lease)
        else:
            self.clock.now += seconds * self.lease

    @precondition(lambda self: self.kind != "redis")
    @rule()
    def reap(self) -> None:
        self.budget.reap()

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def totals_are_the_sum_of_commits(self) -> None:
        for scope, total in self.committed.items():
            assert self.budget.status(scope=scope).used == total

    @invariant()
    def never_over_a_cap_beyond_the_overspend_counted(self) -> None:
        for scope in self.committed:
            s = self.budget.status(scope=scope)
            cap = USER_CAP if scope.startswith("user:") else SESSION_CAP
            assert s.overspent == self.overspent_events.get(scope, 0)
            assert max(0, s.used + s.reserved - cap) <= s.overspent
            if not self.late_or_over:
                assert s.used + s.reserved <= cap
                assert s.overspent == 0

    @invariant()
    def reserved_covers_the_live_holds(self) -> None:
        now = self.now()
        for scope in self.committed:
            mine = [h for h in self.open if scope in h.r.scopes and h.r.state == "active"]
            surely = sum(h.r.tokens for h in mine if h.heartbeat or now < h.expires - 0.05)
            s = self.budget.status(scope=scope)
            if self.kind != "redis":  # fake time: renewals of heartbeats never come due
                assert s.reserved >= surely
            assert s.reserved <= sum(h.r.tokens for h in mine)


REDIS: dict[str, str] = {}

_SETTINGS = settings(
    max_examples=120,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class MemoryMachine(BudgetMachine):
    kind = "memory"


class SQLiteMachine(BudgetMachine):
    kind = "sqlite"


class RedisMachine(BudgetMachine):
    kind = "redis"
    lease = 0.3


def test_memory_ledger_stateful() -> None:
    MemoryMachine.TestCase.settings = _SETTINGS
    MemoryMachine.TestCase().runTest()


def test_sqlite_ledger_stateful() -> None:
    SQLiteMachine.TestCase.settings = _SETTINGS
    SQLiteMachine.TestCase().runTest()


@pytest.mark.redis
@pytest.mark.slow
def test_redis_ledger_stateful(redis_url: str) -> None:
    REDIS["url"] = redis_url
    RedisMachine.TestCase.settings = settings(_SETTINGS, max_examples=12, stateful_step_count=15)
    RedisMachine.TestCase().runTest()
