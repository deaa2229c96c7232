"""The ``ctxbudget session`` commands: status, list, reset, on a SQLite ledger file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ctxbudget import SessionBudget
from ctxbudget.cli import app


@pytest.fixture
def runner() -> CliRunner:
    """A CLI runner; click >= 8.2 keeps stdout and stderr apart."""
    return CliRunner()


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    """A SQLite ledger with session s1 at 850 of 1,000 tokens and s2 at 100."""
    url = f"sqlite:///{tmp_path / 'spend.db'}"
    b = SessionBudget(url, session_cap=1000)
    try:
        b.reserve(900, session="s1").commit(600, 250)
        b.reserve(200, session="s2").commit(60, 40)
    finally:
        b.close()
    return url


def _cells(stdout: str, scope: str) -> list[str]:
    """The cells of the table row whose first cell is ``scope``."""
    rows = [line for line in stdout.splitlines() if line.startswith(f"│ {scope} ")]
    assert len(rows) == 1, stdout
    return [cell.strip() for cell in rows[0].strip("│").split("│")]


def _used(url: str, session: str) -> int:
    b = SessionBudget(url, session_cap=1000)
    try:
        return b.status(session).used
    finally:
        b.close()


def test_session_list_prints_ids(runner: CliRunner, ledger: str) -> None:
    """session list prints the session ids, sorted, one per line."""
    result = runner.invoke(app, ["session", "list", "--ledger", ledger])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "s1\ns2\n"
    assert result.stderr == ""


def test_session_status_one(runner: CliRunner, ledger: str) -> None:
    """session status ID shows that session's scope, state, used, remaining and cap."""
    result = runner.invoke(app, ["session", "status", "s1", "--ledger", ledger])
    assert result.exit_code == 0, result.stderr
    cells = _cells(result.stdout, "session:s1")
    # scope, state, used, reserved, remaining, cap, calls, cost
    assert cells[:8] == ["session:s1", "near_cap", "850", "0", "150", "1,000", "1", "0.0000"]
    assert "session:s2" not in result.stdout


def test_session_status_all(runner: CliRunner, ledger: str) -> None:
    """session status without an id shows every session."""
    result = runner.invoke(app, ["session", "status", "--ledger", ledger])
    assert result.exit_code == 0, result.stderr
    assert _cells(result.stdout, "session:s1")[:6] == [
        "session:s1",
        "near_cap",
        "850",
        "0",
        "150",
        "1,000",
    ]
    assert _cells(result.stdout, "session:s2")[:6] == [
        "session:s2",
        "active",
        "100",
        "0",
        "900",
        "1,000",
    ]


def test_session_reset(runner: CliRunner, ledger: str) -> None:
    """session reset forgets a session's spend; the other session keeps its own."""
    assert _used(ledger, "s1") == 850
    result = runner.invoke(app, ["session", "reset", "s1", "--ledger", ledger])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "reset session s1\n"
    assert _used(ledger, "s1") == 0
    assert _used(ledger, "s2") == 100
    listed = runner.invoke(app, ["session", "list", "--ledger", ledger])
    assert listed.stdout == "s2\n"


def test_session_reset_unknown(runner: CliRunner, ledger: str) -> None:
    """Resetting a session the ledger does not keep exits 2 with one error line."""
    result = runner.invoke(app, ["session", "reset", "nope", "--ledger", ledger])
    assert result.exit_code == 2
    assert result.stderr == "error: no session 'nope' in the ledger\n"
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["list"], ["status"], ["reset", "s1"]])
def test_session_unknown_scheme(runner: CliRunner, command: list[str]) -> None:
    """An unknown ledger scheme exits 2 with an error listing the known schemes."""
    result = runner.invoke(app, ["session", *command, "--ledger", "nosuch://x"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "unknown ledger scheme 'nosuch'" in lines[0]
    for scheme in ("memory://", "redis://", "sqlite://"):
        assert scheme in lines[0]


def test_session_ledger_from_env(runner: CliRunner, ledger: str) -> None:
    """Without --ledger the CTXBUDGET_LEDGER_URL environment variable names the ledger."""
    result = runner.invoke(app, ["session", "list"], env={"CTXBUDGET_LEDGER_URL": ledger})
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "s1\ns2\n"
    status = runner.invoke(app, ["session", "status", "s2"], env={"CTXBUDGET_LEDGER_URL": ledger})
    assert status.exit_code == 0, status.stderr
    assert _cells(status.stdout, "session:s2")[:3] == ["session:s2", "active", "100"]


def test_session_corrupt_sqlite(runner: CliRunner, tmp_path: Path) -> None:
    """A file that is not a SQLite database exits 2 and the error names its path."""
    path = tmp_path / "broken.db"
    path.write_bytes(b"not a database" * 100)
    for command in (["list"], ["status"], ["reset", "s1"]):
        result = runner.invoke(app, ["session", *command, "--ledger", f"sqlite:///{path}"])
        assert result.exit_code == 2, command
        lines = result.stderr.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("error: ")
        assert str(path) in lines[0]


def test_session_status_json_has_the_session_and_global_rows(
    runner: CliRunner, ledger: str
) -> None:
    """--json prints every row as JSON: the session's numbers, then the global scope."""
    import json

    result = runner.invoke(app, ["session", "status", "s1", "--json", "--ledger", ledger])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["scope"] for r in rows] == ["session:s1", "global"]
    assert (rows[0]["used"], rows[0]["cap"], rows[0]["state"]) == (850, 1000, "near_cap")
    assert rows[0]["input_tokens"] == 600
    assert rows[0]["updated"].endswith("+00:00")
    assert rows[1]["used"] == 950  # every session's spend


def test_session_status_with_a_user_shows_the_user_row(runner: CliRunner, tmp_path: Path) -> None:
    """--user adds the user's scope between the sessions and the global row."""
    url = f"sqlite:///{tmp_path / 'spend.db'}"
    b = SessionBudget(url, session_cap=1000)
    b.reserve(100, session="s1", user="maya").commit(70, 30)
    b.close()
    result = runner.invoke(app, ["session", "status", "--user", "maya", "--ledger", url])
    assert result.exit_code == 0, result.stderr
    assert _cells(result.stdout, "user:maya")[:3] == ["user:maya", "active", "100"]
    assert _cells(result.stdout, "global")[:3] == ["global", "active", "100"]


def test_session_status_of_an_unknown_session_is_an_error(runner: CliRunner, ledger: str) -> None:
    """A mistyped session id is one error line naming it and the ledger's sessions, not a
    healthy-looking empty row."""
    result = runner.invoke(app, ["session", "status", "s3", "--ledger", ledger])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: no session 's3' in the ledger sqlite:///")
    assert "(it keeps: s1, s2)" in lines[0]


def test_session_status_on_memory_notes_that_nothing_is_shared(runner: CliRunner) -> None:
    """On the default memory:// ledger a note on stderr says it sees no other process."""
    result = runner.invoke(app, ["session", "status", "--ledger", "memory://"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("note: the memory:// ledger keeps nothing between processes")


def test_state_colours_exhausted_red_near_cap_yellow() -> None:
    """The fill bar and the state cell take the state's colour (an exhausted bar is red)."""
    from ctxbudget.cli._session import _fill_bar

    b = SessionBudget("memory://", session_cap=100)
    b.record(100, 0, session="full")
    b.record(85, 0, session="near")
    b.record(10, 0, session="ok")
    styles = {s: _fill_bar(b.status(s)).complete_style for s in ("full", "near", "ok")}  # type: ignore[union-attr]
    assert styles == {"full": "red", "near": "yellow", "ok": "green"}


def test_session_reap_reclaims_expired_reservations(runner: CliRunner, tmp_path: Path) -> None:
    """session reap returns the tokens of a reservation whose holder died and whose lease ran
    out, and says how many; a second run finds none."""
    import subprocess
    import sys
    import time

    url = f"sqlite:///{tmp_path / 'spend.db'}"
    holder = (
        "import os; from ctxbudget import SessionBudget; "
        f"b = SessionBudget({url!r}, session_cap=1000, lease_s=0.2); "
        "r = b.reserve(300, session='s1', heartbeat=False); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", holder], check=True, timeout=60)
    time.sleep(0.4)
    b = SessionBudget(url, session_cap=1000)
    assert b.status("s1").reserved == 300
    result = runner.invoke(app, ["session", "reap", "--ledger", url])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "reclaimed 1 expired reservation\n"
    assert b.status("s1").reserved == 0
    again = runner.invoke(app, ["session", "reap", "--ledger", url])
    assert again.stdout == "reclaimed 0 expired reservations\n"
    b.close()


def test_session_status_shows_the_children_of_a_session(runner: CliRunner, tmp_path: Path) -> None:
    """A session's nested budgets are rows under it, with their own caps."""
    url = f"sqlite:///{tmp_path / 'spend.db'}"
    b = SessionBudget(url, session_cap=1000)
    b.child("s1", "search", cap=300).reserve(100).commit(80, 20)
    b.close()
    result = runner.invoke(app, ["session", "status", "s1", "--ledger", url])
    assert result.exit_code == 0, result.stderr
    assert _cells(result.stdout, "session:s1")[:3] == ["session:s1", "active", "100"]
    child = _cells(result.stdout, "session:s1:search")
    assert child[:6] == ["session:s1:search", "active", "100", "0", "200", "300"]
