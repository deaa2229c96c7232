"""The build report: the stacked bar's proportions, the table's columns and footnotes, the
SVG/HTML pictures ``--report`` writes, and a snapshot of what a human reads on stderr."""

from __future__ import annotations

import html.parser
import io
import json
import math
import os
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from syrupy.assertion import SnapshotAssertion
from typer.testing import CliRunner

from ctxbudget import build_context, load_sections
from ctxbudget.cli import app
from ctxbudget.cli._report import (
    CapBar,
    build_report,
    display_status,
    export_report,
    share_cells,
)
from ctxbudget.context import BuiltContext, SectionReport

REPO = Path(__file__).resolve().parents[1]
MEMORY = REPO / "examples" / "memory"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _plain(renderable: object, width: int = 120) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


def _report(**sections: dict[str, object]) -> BuiltContext:
    """A BuiltContext of hand-made section reports (cap 100, 'char' tokenizer)."""
    reports = []
    for name, fields in sections.items():
        values: dict[str, object] = {
            "name": name,
            "title": name.title(),
            "priority": 0.5,
            "required": False,
            "status": "full",
            "tokens_demanded": 10,
            "demand_exact": True,
            "tokens_allocated": 10,
            "tokens_used": 10,
            "items_kept": 1,
        }
        values.update(fields)
        reports.append(SectionReport(**values))  # type: ignore[arg-type]
    used = sum(r.tokens_used for r in reports)
    return BuiltContext("x" * used, used, 100, "char", False, tuple(reports))


# --- the bar ------------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 10_000), max_size=12), st.integers(0, 200))
def test_cells_are_shared_by_largest_remainder(values: list[int], width: int) -> None:
    """Cells sum to the width (0 when every value is 0), each the floor or ceiling of its
    exact share."""
    cells = share_cells(values, width)
    assert len(cells) == len(values)
    total = sum(values)
    assert sum(cells) == (width if total else 0)
    for v, c in zip(values, cells, strict=True):
        exact = width * v / total if total else 0
        assert math.floor(exact) <= c <= math.ceil(exact)


def test_share_cells_rejects_negative_values() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        share_cells([3, -1], 10)


def _two_files(folder: Path) -> Path:
    """Two sections whose sizes are known by hand under ``approx:1`` (a token a character):
    ``## A\\n`` + 30 ``a`` and ``## B\\n`` + 10 ``b``, joined by ``\\n\\n``, is 52
    characters; the report gives a 36 (its text and one joining newline) and b 16."""
    folder.mkdir(exist_ok=True)
    (folder / "a.md").write_text("a" * 30, encoding="utf-8")
    (folder / "b.md").write_text("b" * 10, encoding="utf-8")
    return folder


def test_cli_bar_cells_are_each_sections_share_of_the_cap(
    runner: CliRunner, tmp_path: Path
) -> None:
    """Cap 80 on an 80-cell bar is a cell a token: a 36 cells, b 16, free 80 - 52 = 28."""
    args = ["build", str(_two_files(tmp_path / "m")), "-n", "80", "--tokenizer", "approx:1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("52 / 80 tokens (65% of the cap)")
    assert lines[1] == "1" * 36 + "2" * 16 + "░" * 28
    assert lines[2] == "1 a 36  2 b 16  ░ free 28"


def test_coloured_bar_draws_blocks_in_each_sections_colour(tmp_path: Path) -> None:
    """On a 60-cell bar for cap 80: a 36 * 60 / 80 = 27 blocks in the first colour, b
    16 * 60 / 80 = 12 in the second, free 28 * 60 / 80 = 21 '░'."""
    sections = load_sections([_two_files(tmp_path / "m")])
    result = build_context(sections, max_tokens=80, tokenizer="approx:1")
    console = Console(file=io.StringIO(), width=120, color_system="truecolor", force_terminal=True)
    segments = list(console.render(CapBar(result, width=60)))
    first_line = []
    for segment in segments:
        if segment.text == "\n":
            break
        first_line.append(segment)
    by_colour: Counter[str] = Counter()
    for segment in first_line:
        if segment.style is not None and segment.style.color is not None:
            by_colour[f"{segment.text[0]} {segment.style.color.name}"] += len(segment.text)
    assert dict(by_colour) == {"█ dodger_blue1": 27, "█ orchid": 12, "░ grey35": 21}


def test_bar_without_a_cap_stands_for_the_text() -> None:
    """With no cap the bar is all sections, no free room."""
    result = build_context(load_sections([MEMORY]), tokenizer="approx:1")
    assert result.max_tokens is None
    segments = CapBar(result).segments(50)
    assert sum(s.cells for s in segments) == 50
    assert "free" not in {s.label for s in segments}
    assert "no cap" in _plain(build_report(result))


def test_template_text_outside_sections_has_its_own_part(tmp_path: Path) -> None:
    """What a template writes around the sections is drawn '▒' as 'template text'."""
    template = tmp_path / "t.j2"
    template.write_text(
        "A FIXED PREAMBLE OF SOME LENGTH\n{% for s in sections %}{{ s.body }}\n{% endfor %}"
    )
    result = build_context(
        load_sections([MEMORY]), max_tokens=800, tokenizer="approx:1", template=template
    )
    text = _plain(build_report(result))
    assert "▒ template text" in text
    assert "▒" in text.splitlines()[1]


# --- the table ----------------------------------------------------------------------------------


def test_table_explains_lower_bounds_leftover_cut_and_failures() -> None:
    """'>=' demands, used above allocated, a cut item and a failed store each get their mark
    in the row and a footnote that explains it; a section with nothing in it is 'empty'."""
    result = _report(
        big={"status": "trimmed", "tokens_demanded": 90, "demand_exact": False},
        greedy={"tokens_allocated": 10, "tokens_used": 25},
        broken={
            "status": "failed",
            "tokens_used": 0,
            "tokens_allocated": 0,
            "items_kept": 0,
            "error": "RuntimeError: database down",
        },
        blank={"tokens_demanded": 0, "tokens_used": 0, "tokens_allocated": 0, "items_kept": 0},
        rules={"required": True},
    )
    text = _plain(build_report(result, preset="mine"))
    rows: dict[str, str] = {}
    for line in text.splitlines():
        if line.split():
            rows.setdefault(line.split()[0], line)  # the table row, before any footnote
    assert ">=90" in rows["big"]
    assert rows["greedy"].split()[-3] == "+15"
    assert rows["broken"].split()[2:4] == ["failed", "-"]
    assert "empty" in rows["blank"]
    assert "req" in rows["rules"]
    assert "a lower bound" in text
    assert "leftover: used beyond the allocation" in text
    assert "broken  failed: RuntimeError: database down" in text
    assert "required section" in text
    assert "preset mine" in text
    assert display_status(result.section("blank")) == "empty"
    assert display_status(result.section("greedy")) == "full"


def test_footnotes_appear_only_when_called_for() -> None:
    """A build where everything fits exactly has no footnotes."""
    text = _plain(build_report(_report(a={}, b={})))
    for note in ("lower bound", "leftover:", "(cut)", "failed", "required"):
        assert note not in text


def test_statuses_are_coloured() -> None:
    """Status cells carry their colour: trimmed yellow, dropped red."""
    result = _report(
        t={"status": "trimmed"}, d={"status": "dropped", "tokens_used": 0, "items_kept": 0}
    )
    console = Console(file=io.StringIO(), width=120, color_system="truecolor", force_terminal=True)
    styles = {
        seg.text.strip(): seg.style.color.name
        for seg in console.render(build_report(result))
        if seg.style is not None and seg.style.color is not None and seg.text.strip()
    }
    assert styles["trimmed"] == "yellow"
    assert styles["dropped"] == "red"


# --- --report FILE ------------------------------------------------------------------------------


def test_report_svg_is_well_formed_and_stable(runner: CliRunner, tmp_path: Path) -> None:
    """--report FILE.svg writes an SVG that parses and names every section; the same build
    writes the same bytes; the report still goes to stderr."""
    svg = tmp_path / "r.svg"
    args = ["build", str(MEMORY), "--max-tokens", "1500", "--report", str(svg)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert "summaries" in result.stderr
    root = ET.parse(svg).getroot()  # noqa: S314 (a file this test wrote)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = "".join(root.itertext()).replace("\xa0", " ")
    for name in (p.stem for p in MEMORY.glob("*.md")):
        assert name in text, name
    assert "1,500 tokens" in text
    first = svg.read_bytes()
    assert runner.invoke(app, args).exit_code == 0
    assert svg.read_bytes() == first


def test_report_html_names_every_section(runner: CliRunner, tmp_path: Path) -> None:
    """--report FILE.html writes HTML that parses and shows every section and the bar."""
    page = tmp_path / "r.html"
    result = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "1500", "--report", str(page), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # --json: nothing on stderr, the picture is still written
    json.loads(result.stdout)
    source = page.read_text(encoding="utf-8")

    class Collect(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []

        def handle_starttag(self, tag: str, attrs: object) -> None:
            self.tags.append(tag)

    parser = Collect()
    parser.feed(source)
    assert {"html", "pre"} <= set(parser.tags)
    for name in (p.stem for p in MEMORY.glob("*.md")):
        assert name in source, name
    assert "█" in source


@pytest.mark.parametrize("name", ["r.png", "r", "r.svg.txt"])
def test_report_other_suffixes_are_one_line_errors(
    runner: CliRunner, tmp_path: Path, name: str
) -> None:
    """Any other suffix exits 2 before building, one error line naming the file and the
    suffixes accepted; nothing is written."""
    target = tmp_path / name
    result = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "500", "--report", str(target)]
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    for fragment in (str(target), ".svg", ".html"):
        assert fragment in lines[0]
    assert not target.exists()


def test_report_unwritable_file_is_one_line_error(runner: CliRunner, tmp_path: Path) -> None:
    """A --report path in a missing folder exits 2 naming it."""
    target = tmp_path / "missing" / "r.svg"
    result = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "500", "--report", str(target)]
    )
    assert result.exit_code == 2
    assert result.stdout == ""  # the file is written first: nothing reached stdout
    assert result.stderr.startswith(f"error: --report {target}: cannot write")
    assert len(result.stderr.splitlines()) == 1


# --- what a human reads -------------------------------------------------------------------------


def test_readme_command_report(runner: CliRunner, snapshot: SnapshotAssertion) -> None:
    """The README's command, `ctxbudget build examples/memory --max-tokens 1500`: its report
    on stderr (plain text, 120 columns) as a human reads it."""
    result = runner.invoke(app, ["build", str(MEMORY), "--max-tokens", "1500"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("1,494 / 1,500 tokens (99.6% of the cap), o200k_base")
    assert result.stderr == snapshot


def _assert_whole_headers_within(text: str, width: int) -> None:
    """Every column header appears whole, in order, and no line is wider than ``width``."""
    header = next(line for line in text.splitlines() if line.startswith("section"))
    assert header.split() == [
        "section", "weight", "status", "demanded", "allocated", "used", "leftover", "kept",
        "trimmed",
    ]  # fmt: skip
    assert max(len(line) for line in text.splitlines()) <= width


def test_an_80_column_terminal_shows_every_header_whole() -> None:
    """Columns close up to one space apart when two would not fit: no header is cut."""
    result = build_context(load_sections([MEMORY]), max_tokens=1500)
    text = _plain(build_report(result, preset="default"), width=80)
    _assert_whole_headers_within(text, 80)
    wide = _plain(build_report(result, preset="default"), width=120)
    assert "section      weight  status" in wide  # two spaces where there is room


def test_a_long_section_name_folds_and_leaves_every_header_whole() -> None:
    """At 80 columns a 33-character name folds in its column; no numeric header is cut."""
    name = "2024-06-customer-escalation-notes"
    result = _report(**{name: {}, "b": {}})
    text = _plain(build_report(result), width=80)
    _assert_whole_headers_within(text, 80)
    assert name in text.replace("\n", "").replace(" ", "")  # folded, not dropped


def test_a_zero_cap_is_a_cap(runner: CliRunner, tmp_path: Path) -> None:
    """`-n 0` said '0 tokens (no cap)'; it is '0 / 0 tokens', with the bar drawn, no error."""
    (tmp_path / "system.md").write_text("sys\n", encoding="utf-8")
    result = runner.invoke(app, ["build", str(tmp_path / "system.md"), "-n", "0"])
    assert result.exit_code == 3, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("0 / 0 tokens (0% of the cap)")
    assert "no cap" not in result.stderr


def test_footnotes_pad_by_cell_width_and_keep_errors_on_one_line() -> None:
    """A wide (CJK) failed section's marker is padded by cells, not characters, and an error
    with newlines is one footnote line."""
    result = _report(
        **{
            "漢字": {"status": "failed", "error": "first\nsecond", "tokens_used": 0},
            "b": {"status": "failed", "error": "x", "tokens_used": 0},
        }
    )
    lines = _plain(build_report(result)).splitlines()
    notes = [line for line in lines if "failed: " in line]
    assert notes == ["漢字  failed: first second", "b     failed: x"]


def _export(path: Path) -> bytes:
    result = _report(**{"a": {}, "2024-06-customer-escalation-notes": {}})
    export_report(build_report(result, preset="default"), path)
    return path.read_bytes()


@pytest.mark.parametrize("suffix", [".svg", ".html"])
def test_export_does_not_depend_on_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, suffix: str
) -> None:
    """TERM=dumb made rich draw 80x25 (another viewBox, cut headers); COLUMNS, NO_COLOR and
    the others are ignored too: the same bytes."""
    for key in ("TERM", "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    normal = _export(tmp_path / f"normal{suffix}")
    for key, value in {"TERM": "dumb", "COLUMNS": "40", "NO_COLOR": "1"}.items():
        monkeypatch.setenv(key, value)
    assert _export(tmp_path / f"dumb{suffix}") == normal
    monkeypatch.setenv("LINES", "5")  # (LINES alone hid the TERM=dumb fallback: a height)
    assert _export(tmp_path / f"lines{suffix}") == normal
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert _export(tmp_path / f"forced{suffix}") == normal


def test_report_of_a_name_that_is_not_utf8_is_written(runner: CliRunner, tmp_path: Path) -> None:
    """A lone surrogate in a section name (`bad\\xffname.md`) crashed with UnicodeEncodeError
    and left an empty file: it is written as U+FFFD."""
    if sys.platform == "win32":
        pytest.skip("file names on Windows are Unicode")
    folder = tmp_path / "w7"
    folder.mkdir()
    (folder / os.fsdecode(b"bad\xffname.md")).write_text("abc\n", encoding="utf-8")
    target = tmp_path / "x.svg"
    target.write_text("old", encoding="utf-8")
    result = runner.invoke(app, ["build", str(folder), "-n", "50", "--report", str(target)])
    assert result.exit_code == 0, result.stderr
    text = target.read_text(encoding="utf-8")
    assert "bad\ufffdname" in text.replace("&#160;", " ")
    assert "bad\ufffdname" in result.stderr


def test_a_failed_export_leaves_the_existing_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The file is replaced whole or not at all: a failure while writing keeps the old one
    and leaves no temporary file behind."""
    target = tmp_path / "keep.svg"
    target.write_text("old", encoding="utf-8")

    # a failure while writing: text UTF-8 cannot encode, let through unreplaced
    monkeypatch.setattr(
        "ctxbudget.cli._report.replace_lone_surrogates", lambda text: text, raising=False
    )
    with pytest.raises(UnicodeEncodeError):
        export_report(build_report(_report(a={})), target, title="bad\udcffname")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.svg"]


def test_export_keeps_the_permissions_of_the_file_it_replaces(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("POSIX permissions")
    target = tmp_path / "r.svg"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    export_report(build_report(_report(a={})), target)
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_console_that_is_no_terminal_is_120_by_25_whatever_term_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """err() and out() on a pipe are 120x25 whatever TERM and COLUMNS say (a guard: rich's
    TERM=dumb fallback is for terminals only, so this held before; the export's did not)."""
    from ctxbudget.cli import _app

    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.delenv("LINES", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    _app.err.cache_clear()
    try:
        assert tuple(_app.err().size) == (120, 25)
        assert tuple(_app.out().size) == (120, 25)
    finally:
        _app.err.cache_clear()
