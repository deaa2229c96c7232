"""Names that come from files and the command line (section names, preset names and
descriptions, session ids) are printed as they are: never read as Rich markup, and with their
control characters as visible escapes, so a file name cannot hide text, crash the printing,
or move a terminal's cursor."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ctxbudget import SessionBudget
from ctxbudget.cli import app, main
from ctxbudget.cli._app import shown

#: A file name that clears the screen and sets the terminal's title, were it printed raw.
HOSTILE = "\x1b[2J\x1b]0;pwned\x07x"
HOSTILE_SHOWN = "\\x1b[2J\\x1b]0;pwned\\x07x"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_shown_escapes_c0_c1_del_newline_tab_and_lone_surrogates() -> None:
    assert shown("a\x1b[0m\x07\n\t\x7f\x85\x9fb") == "a\\x1b[0m\\x07\\x0a\\x09\\x7f\\x85\\x9fb"
    assert shown("bad\udcffname") == "bad\ufffdname"
    assert shown("plain [b]text[/b] é 漢") == "plain [b]text[/b] é 漢"


@pytest.mark.parametrize("name", ["[b]old", "[/red]x", "[link=file:///etc]y[/link]"])
def test_count_prints_section_names_as_text_not_markup(
    runner: CliRunner, tmp_path: Path, name: str
) -> None:
    """`[b]old.md` shows as `[b]old` (it showed `old`); `[/red]x` raised MarkupError."""
    (tmp_path / "a.md").write_text(f'---\nname: "{name}"\n---\nhello\n', encoding="utf-8")
    result = runner.invoke(app, ["count", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert name in result.stdout


def test_count_prints_a_file_named_in_markup_whole(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "[b]old.md").write_text("hello\n", encoding="utf-8")
    result = runner.invoke(app, ["count", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert "[b]old" in result.stdout


def test_presets_show_prints_name_description_and_sections_as_text(
    runner: CliRunner, tmp_path: Path
) -> None:
    preset = tmp_path / "p.yaml"
    preset.write_text(
        'name: "[/red]mine"\ndescription: "[b]bold[/b] claim"\n'
        'sections:\n  "[i]notes":\n    weight: 2\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["presets", "show", str(preset)])
    assert result.exit_code == 0, result.stderr
    assert "[/red]mine: [b]bold[/b] claim" in result.stdout
    assert "[i]notes" in result.stdout


def test_a_name_with_control_characters_is_one_escaped_error_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A front-matter name holding ESC and BEL is refused (a section name is one line without
    control characters), and the error line shows `\\x1b...`, never the raw sequence."""
    yaml_name = "\\e[2J\\e]0;pwned\\ax"  # YAML's escapes of ESC and BEL
    (tmp_path / "a.md").write_text(f'---\nname: "{yaml_name}"\n---\nhi\n', encoding="utf-8")
    result = runner.invoke(app, ["build", str(tmp_path), "-n", "50"])
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert "\x1b" not in result.stderr
    assert "\x07" not in result.stderr
    assert "without control characters" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.skipif(sys.platform == "win32", reason="ESC cannot be in a Windows file name")
def test_a_file_name_with_escapes_reaches_no_line_raw(runner: CliRunner, tmp_path: Path) -> None:
    """build and count refuse a file whose stem holds an escape sequence, in one line that
    shows it escaped."""
    (tmp_path / f"{HOSTILE}.md").write_text("hi\n", encoding="utf-8")
    for command in (["build", str(tmp_path), "-n", "50"], ["count", str(tmp_path)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.stderr
        assert "\x1b" not in result.stdout + result.stderr
        assert HOSTILE_SHOWN in result.stderr
        assert result.stderr.count("\n") == 1


def test_an_error_line_escapes_control_characters(
    runner: CliRunner, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fail()`'s line and `main()`'s usage lines: one line, no raw control character."""
    (tmp_path / "a.md").write_text("hi\n", encoding="utf-8")
    result = runner.invoke(app, ["build", str(tmp_path), "-p", f"{HOSTILE}\nnext"])  # was raw
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    with pytest.raises(SystemExit):
        main(["build", str(tmp_path), "-n", f"{HOSTILE}"])
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert HOSTILE_SHOWN in err
    assert err.count("\n") == 1


def test_session_ids_and_users_are_text_not_markup(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'spend.db'}"
    b = SessionBudget(url, session_cap=1000)
    try:
        b.reserve(10, session="[/red]s").commit(5, 5)
    finally:
        b.close()
    status = runner.invoke(app, ["session", "status", "--ledger", url, "--user", "[b]u"])
    assert status.exit_code == 0, status.stderr
    assert "[/red]s" in status.stdout
    assert "[b]u" in status.stdout
    reset = runner.invoke(app, ["session", "reset", "[/red]s", "--ledger", url])
    assert reset.exit_code == 0, reset.stderr
    assert reset.stdout == "reset session [/red]s\n"
