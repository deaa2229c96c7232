"""Command-line mistakes (a wrong option value, an unknown option, a missing argument) are one
``error:`` line naming the option and the value given, with exit status 2, never a box or a
traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctxbudget.cli import main

MEMORY = str(Path(__file__).resolve().parents[1] / "examples" / "memory")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), out, err


@pytest.mark.parametrize(
    ("argv", "value"),
    [
        (["build", MEMORY, "--max-tokens", "abc"], "'abc'"),
        (["build", MEMORY, "-n", "1.5k"], "'1.5k'"),
        (["build", MEMORY, "--max-tokens=x1"], "'x1'"),
        (["build", MEMORY, "-nx2"], "'x2'"),
    ],
)
def test_a_bad_option_value_is_one_line_naming_the_value(
    capsys: pytest.CaptureFixture[str], argv: list[str], value: str
) -> None:
    """The value given, the option's names and the help to read, on one line; stdout empty."""
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err == (
        f"error: invalid value {value} for '--max-tokens' / '-n': not a whole number "
        "(see 'ctxbudget build --help')\n"
    )


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["build", MEMORY, "-n", "100", "--bogus"], "No such option: --bogus"),
        (["build"], "Missing argument 'PATH'"),
        (["presets", "show"], "Missing argument 'name'"),
        (["nosuch"], "No such command 'nosuch'"),
        (
            ["build", MEMORY, "-n", "100", "--tokenizer"],
            "Option '--tokenizer' requires an argument",
        ),
    ],
)
def test_other_command_line_mistakes_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    """Unknown options and commands, missing arguments: one line, exit 2, no box drawing."""
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {says}")
    assert err.count("\n") == 1
    assert "╭" not in err
    assert "Traceback" not in err


def test_help_version_and_success_keep_their_exit_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--help and --version exit 0 and print to stdout; a build that fits exits 0."""
    code, out, _ = _run(capsys, "--version")
    assert (code, out.startswith("ctxbudget ")) == (0, True)
    code, out, _ = _run(capsys, "build", "--help")
    assert code == 0
    assert "--max-tokens" in out
    code, out, _ = _run(capsys, "build", MEMORY, "-n", "800", "--json")
    assert code == 0
    assert out.lstrip().startswith("{")


def test_no_arguments_shows_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    """``ctxbudget`` alone prints the usage and its commands, not an error line."""
    code, out, err = _run(capsys)
    assert code in {0, 2}  # click >= 8.2 exits 2 here, older click 0
    assert "Usage" in out + err
    assert "build" in out + err
    assert "error:" not in err


@pytest.mark.parametrize(
    ("argv", "where"),
    [
        (["build", MEMORY, "-n"], "ctxbudget build"),
        (["--debug", "build", MEMORY, "-n"], "ctxbudget build"),
        (["count", MEMORY, "--tokenizer"], "ctxbudget count"),
        (["session", "status", "--ledger"], "ctxbudget session status"),
        (["serve", "--port"], "ctxbudget serve"),
    ],
)
def test_a_missing_option_value_points_at_the_subcommands_help(
    capsys: pytest.CaptureFixture[str], argv: list[str], where: str
) -> None:
    """click gives no context for a missing value: the path comes from the arguments (it
    said 'see ctxbudget --help')."""
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.endswith(f"(see '{where} --help')\n")
    assert err.count("\n") == 1


def _explode(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom\nsecond line")


def test_an_unexpected_failure_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in a command is one line naming its type, not a traceback."""
    monkeypatch.setattr("ctxbudget.cli._build.read_sections", _explode)
    code, out, err = _run(capsys, "build", MEMORY, "-n", "100")
    assert code == 1
    assert out == ""
    assert err == (
        "error: unexpected RuntimeError: boom second line (run with --debug for the traceback)\n"
    )


def test_debug_shows_the_unexpected_failures_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctxbudget import cli

    monkeypatch.setitem(cli._state, "debug", False)  # restored after: the flag is global
    monkeypatch.setattr("ctxbudget.cli._build.read_sections", _explode)
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "build", MEMORY, "-n", "100"])


def test_debug_is_seen_even_before_the_root_callback_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure before the root callback has set the flag: `--debug` among the arguments
    still re-raises."""
    from ctxbudget import cli

    monkeypatch.setitem(cli._state, "debug", False)
    monkeypatch.setattr(cli, "app", _explode)
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "build", MEMORY])
