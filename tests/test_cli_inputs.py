"""The command line's conveniences: ``--version``, ``-`` for stdin, ``--json`` as a plain flag,
exit status 3 when nothing fit, template errors that list the variables, and ``count``'s
progress (off on a pipe, on when asked or on a terminal for a large tree)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tests.cli_errors import assert_one_error
from typer.testing import CliRunner

from ctxbudget._version import __version__
from ctxbudget.cli import app

REPO = Path(__file__).resolve().parents[1]
MEMORY = REPO / "examples" / "memory"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# --- --version, --help --------------------------------------------------------------------------


def test_version_prints_the_package_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"ctxbudget {__version__}\n"


def test_version_from_the_module_entry_point() -> None:
    """`python -m ctxbudget.cli --version` prints the same line."""
    done = subprocess.run(
        [sys.executable, "-m", "ctxbudget.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert done.stdout == f"ctxbudget {__version__}\n"


def test_help_shows_json_as_a_plain_flag_and_the_exit_statuses(runner: CliRunner) -> None:
    """build --help lists --json with no value and no --no-json, and the exit statuses."""
    result = runner.invoke(app, ["build", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    json_line = next(line for line in result.stdout.splitlines() if "--json" in line)
    assert "<bool>" not in json_line
    assert "--no-json" not in result.stdout
    flat = " ".join(result.stdout.replace("│", " ").split())
    assert "Exit status: 0 built; 1 an unexpected failure" in flat
    assert "2 bad input" in flat
    assert "3 no section's content fit" in flat
    assert "--stdin-name" in flat
    assert "--report" in flat


def test_count_help_says_when_progress_shows(runner: CliRunner) -> None:
    """The --progress help keeps its default rule (not eaten as markup)."""
    result = runner.invoke(app, ["count", "--help"], env={"COLUMNS": "200"})
    flat = " ".join(result.stdout.replace("│", " ").split())
    assert "--no-progress" in flat
    assert "(default: when stderr is a terminal and there are 50 files" in flat
    assert "Exit status: 0 counted" in flat


# --- '-' reads stdin ----------------------------------------------------------------------------


def test_stdin_is_a_section_named_stdin(runner: CliRunner) -> None:
    result = runner.invoke(app, ["build", "-", "--max-tokens", "100"], input="piped words\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "## Stdin\npiped words"
    assert "stdin" in result.stderr


def test_stdin_name_option_and_files_together(runner: CliRunner) -> None:
    """--stdin-name names the section; files before and after '-' keep their places."""
    args = ["count", str(MEMORY / "graph.md"), "-", str(MEMORY / "entities.md"), "--json"]
    result = runner.invoke(app, [*args, "--stdin-name", "notes"], input="alpha beta\n")
    assert result.exit_code == 0, result.stderr
    assert list(json.loads(result.stdout)["sections"]) == ["graph", "notes", "entities"]


def test_stdin_front_matter_is_read_like_a_files(runner: CliRunner) -> None:
    """Front matter on stdin sets the name and options, and is not part of the text."""
    piped = "---\nname: pinned\nrequired: true\n---\nkeep me\n"
    result = runner.invoke(
        app, ["build", "-", str(MEMORY), "-n", "200", "--json"], input=piped.encode()
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    pinned = next(s for s in report["sections"] if s["name"] == "pinned")
    assert pinned["required"] is True
    assert "## Pinned\nkeep me" in report["text"]
    assert "required: true" not in report["text"]


def test_stdin_errors_are_one_line(runner: CliRunner) -> None:
    """'-' twice, a name a file already has, bad front matter and bytes that are not UTF-8
    are each one error line naming the culprit."""
    assert_one_error(
        runner.invoke(app, ["count", "-", "-"], input="x"), "'-' (stdin) is given 2 times"
    )
    assert_one_error(
        runner.invoke(app, ["count", "-", str(MEMORY), "--stdin-name", "graph"], input="x"),
        "<stdin> and a file both give the section name 'graph'",
    )
    assert_one_error(
        runner.invoke(app, ["count", "-"], input="---\ncolour: red\n---\nx\n"),
        "<stdin>",
        "'colour'",
    )
    assert_one_error(runner.invoke(app, ["count", "-"], input=b"caf\xe9\n"), "<stdin>", "UTF-8")
    for blank in ("", "   "):
        assert_one_error(
            runner.invoke(app, ["build", "-", "-n", "50", "--stdin-name", blank], input="x"),
            f"--stdin-name {blank!r}",
        )


# --- nothing fit --------------------------------------------------------------------------------


def test_nothing_fit_warns_and_exits_3(runner: CliRunner) -> None:
    """A cap too small for any section: empty stdout, the report, a warning line, status 3."""
    result = runner.invoke(app, ["build", str(MEMORY), "--max-tokens", "5"])
    assert result.exit_code == 3
    assert result.stdout == ""
    last = result.stderr.splitlines()[-1]
    assert last.startswith("warning: no section's content fit within 5 tokens")
    assert "exit status 3" in last
    assert "dropped" in result.stderr  # the report still shows each section


def test_nothing_fit_with_json_still_prints_the_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["build", str(MEMORY), "--max-tokens", "5", "--json"])
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert {s["status"] for s in report["sections"]} == {"dropped"}
    assert result.stderr.startswith("warning: no section's content fit")


def test_only_empty_sections_is_nothing_to_assemble(runner: CliRunner, tmp_path: Path) -> None:
    """Empty files (shown 'empty' in the report) give status 3 too, saying why."""
    (tmp_path / "blank.md").write_text("", encoding="utf-8")
    result = runner.invoke(app, ["build", str(tmp_path), "--max-tokens", "50"])
    assert result.exit_code == 3
    assert "empty" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("warning: nothing to assemble")


def test_something_fit_exits_0(runner: CliRunner, tmp_path: Path) -> None:
    """One empty section beside one that fits is a normal build."""
    (tmp_path / "blank.md").write_text("", encoding="utf-8")
    (tmp_path / "facts.md").write_text("sky is blue\n", encoding="utf-8")
    result = runner.invoke(app, ["build", str(tmp_path), "--max-tokens", "50"])
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr


def test_a_template_with_fixed_text_is_not_called_empty(runner: CliRunner, tmp_path: Path) -> None:
    """When no section fits but the template's own text does, stdout is that text and the
    warning says so: it said 'the context is empty'."""
    (tmp_path / "big.md").write_text("aaaa " * 40 + "\n", encoding="utf-8")
    template = tmp_path / "t.j2"
    template.write_text("FIXED\n{% for s in sections %}{{ s.body }}{% endfor %}", encoding="utf-8")
    args = ["build", str(tmp_path / "big.md"), "-n", "5", "--template", str(template)]
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.stderr
    assert result.stdout.startswith("FIXED")
    last = result.stderr.splitlines()[-1]
    assert last.startswith("warning: no section's content fit within 5 tokens")
    assert "the context is only the template's own text" in last
    assert "is empty" not in last


def test_a_closed_stdin_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ctxbudget build - <&-` (sys.stdin is None) raised AttributeError."""
    from ctxbudget.cli import main

    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(SystemExit) as exit_info:
        main(["build", "-", "-n", "50"])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: PATH '-': stdin is closed, there is nothing to read\n"


def test_a_closed_stdin_from_the_shell() -> None:
    if sys.platform == "win32":
        pytest.skip("POSIX shell")
    script = 'exec "$0" -m ctxbudget.cli build - -n 50 <&-'  # stdin closed, not empty
    done = subprocess.run(
        ["/bin/sh", "-c", script, sys.executable],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == "error: PATH '-': stdin is closed, there is nothing to read\n"


def test_dot_slash_dash_is_a_file_not_stdin(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the argument '-' itself is stdin; `./-` is the file named '-' in the cwd."""
    if sys.platform == "win32":
        pytest.skip("'-' as a file name")
    (tmp_path / "-").write_text("from the file\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["build", "./-", "-n", "50"], input="from stdin\n")
    assert result.exit_code == 0, result.stderr
    assert "from the file" in result.stdout
    assert "from stdin" not in result.stdout
    both = runner.invoke(app, ["build", "./-", "-", "-n", "50"], input="from stdin\n")
    assert both.exit_code == 0, both.stderr
    assert "from the file" in both.stdout
    assert "from stdin" in both.stdout


# --- template errors ----------------------------------------------------------------------------


VARIABLES = "available variables: sections (a list, highest priority first; each has name, title"


def test_undefined_variable_names_file_line_and_variables(
    runner: CliRunner, tmp_path: Path
) -> None:
    template = tmp_path / "t.j2"
    template.write_text("{% for s in sections %}\n{{ s.body }} {{ mood }}\n{% endfor %}")
    result = runner.invoke(app, ["build", str(MEMORY), "-n", "300", "--template", str(template)])
    line = assert_one_error(result, f"error: {template}:2: ", "'mood' is undefined", VARIABLES)
    assert "body, weight, required" in line
    assert "Traceback" not in result.stderr


def test_undefined_section_attribute_says_a_section(runner: CliRunner, tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("{% for s in sections %}{{ s.text }}{% endfor %}")
    result = runner.invoke(app, ["build", str(MEMORY), "-n", "300", "--template", str(template)])
    assert_one_error(result, f"{template}:1: ", "a section has no attribute 'text'", VARIABLES)


def test_template_syntax_error_names_file_and_line(runner: CliRunner, tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("ok\n{{ s.body }\n")
    result = runner.invoke(app, ["build", str(MEMORY), "-n", "300", "--template", str(template)])
    line = assert_one_error(result, f"error: {template}:2: ")
    assert "available variables" not in line


# --- count's progress ---------------------------------------------------------------------------


def test_progress_is_off_on_a_pipe_and_on_when_asked(runner: CliRunner) -> None:
    """Not a terminal: no progress unless --progress; with it the bar goes to stderr only and
    the JSON on stdout is unchanged."""
    plain = runner.invoke(app, ["count", str(MEMORY), "--json"])
    assert plain.exit_code == 0
    assert plain.stderr == ""
    assert runner.invoke(app, ["count", str(MEMORY), "--json", "--no-progress"]).stderr == ""
    shown = runner.invoke(app, ["count", str(MEMORY), "--json", "--progress"])
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout == plain.stdout
    assert "counting" in shown.stderr
    assert "8/8 files" in shown.stderr


def _count_on_a_terminal(folder: Path, *extra: str) -> tuple[str, str]:
    """Run `count` with stderr on a pseudo-terminal: (stdout, what the terminal received)."""
    leader, follower = pty.openpty()
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-m", "ctxbudget.cli", "count", str(folder), "--json", *extra],
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    os.close(follower)
    reader.join(timeout=10)
    os.close(leader)
    return done.stdout, received.decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_progress_is_on_for_a_large_tree_on_a_terminal(tmp_path: Path) -> None:
    """stderr a terminal: 60 files show progress there (stdout's JSON untouched), 3 do not,
    and --no-progress turns it off."""
    large = tmp_path / "large"
    large.mkdir()
    for i in range(60):
        (large / f"f{i:02}.md").write_text(f"note number {i}\n", encoding="utf-8")
    stdout, terminal = _count_on_a_terminal(large)
    assert "counting" in terminal
    assert len(json.loads(stdout)["sections"]) == 60
    small = tmp_path / "small"
    small.mkdir()
    for i in range(3):
        (small / f"f{i}.md").write_text("x\n", encoding="utf-8")
    assert "counting" not in _count_on_a_terminal(small)[1]
    assert "counting" not in _count_on_a_terminal(large, "--no-progress")[1]


def test_count_includes_files_of_items_markers_stripped(runner: CliRunner, tmp_path: Path) -> None:
    """A file with item markers is counted (it used to be left out), as its items one per
    line without the markers."""
    from ctxbudget import get_tokenizer

    (tmp_path / "items.md").write_text(
        "- fact one <!-- ctx: kind=doc -->\n- fact two\n", encoding="utf-8"
    )
    (tmp_path / "plain.md").write_text("plain words\n", encoding="utf-8")
    result = runner.invoke(app, ["count", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.stderr
    sections = json.loads(result.stdout)["sections"]
    assert sections["items"] == get_tokenizer("o200k_base").count("- fact one\n- fact two")
    assert set(sections) == {"items", "plain"}
