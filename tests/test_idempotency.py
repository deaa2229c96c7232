"""Idempotency keys: a retried reserve holds nothing more, a retried commit records once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ctxbudget import ConfigurationError, ReservationError, SessionBudget


def test_a_replayed_reserve_holds_once_and_returns_the_same_reservation(ledger_url: str) -> None:
    """Two reserves with one key hold the tokens once; while the first lives, the replay is
    the same object; a commit retried under the key records once."""
    budget = SessionBudget(ledger_url, session_cap=1_000)
    first = budget.reserve(300, session="s1", idempotency_key="call-42")
    again = budget.reserve(300, session="s1", idempotency_key="call-42")
    assert again is first
    assert budget.status("s1").reserved == 300
    first.commit(200, 50)
    first.commit(200, 50)  # a retry after a lost reply: no error, nothing recorded twice
    status = budget.status("s1")
    assert (status.used, status.reserved, status.calls) == (250, 0, 1)
    budget.close()


def test_one_key_in_two_sessions_is_two_reservations(ledger_url: str) -> None:
    """The key is scoped: the same key in another session is another reservation."""
    budget = SessionBudget(ledger_url, session_cap=1_000)
    a = budget.reserve(100, session="s1", idempotency_key="k")
    b = budget.reserve(100, session="s2", idempotency_key="k")
    assert a.id != b.id
    assert (budget.status("s1").reserved, budget.status("s2").reserved) == (100, 100)
    a.rollback()
    b.rollback()
    budget.close()


def test_without_a_key_a_second_commit_is_still_an_error() -> None:
    """Plain reservations keep their strictness: committing twice raises."""
    budget = SessionBudget("memory://", session_cap=1_000)
    r = budget.reserve(100, session="s1")
    r.commit(10, 10)
    with pytest.raises(ReservationError, match="committed"):
        r.commit(10, 10)


_RETRY = """
import sys
from ctxbudget import SessionBudget
b = SessionBudget(sys.argv[1], session_cap=1_000)
r = b.reserve(300, session="s1", idempotency_key="job-7")
r.commit(int(sys.argv[2]), 0)
print(b.status("s1").used)
"""


def test_a_retry_in_another_process_after_the_commit_records_nothing_more(tmp_path: Path) -> None:
    """A worker that committed and a retry of the same job in a new process (the reply was
    lost): the retry's reserve holds nothing, its commit is the first one's, used stays."""
    url = f"sqlite:///{tmp_path / 'spend.db'}"
    first = subprocess.run(
        [sys.executable, "-c", _RETRY, url, "250"], capture_output=True, text=True, check=True
    )
    retry = subprocess.run(
        [sys.executable, "-c", _RETRY, url, "250"], capture_output=True, text=True, check=True
    )
    assert (first.stdout.strip(), retry.stdout.strip()) == ("250", "250")
    budget = SessionBudget(url, session_cap=1_000)
    status = budget.status("s1")
    assert (status.used, status.reserved, status.calls) == (250, 0, 1)
    budget.close()


@pytest.mark.parametrize("key", ["", "x" * 257, 42, None.__class__])
def test_a_bad_key_is_refused(key: object) -> None:
    """A key that is not a str of 1-256 characters is a one-line ConfigurationError."""
    with pytest.raises(ConfigurationError, match="idempotency_key"):
        SessionBudget("memory://").reserve(10, session="s1", idempotency_key=key)  # type: ignore[arg-type]
