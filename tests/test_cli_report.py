"""The build report: the stacked bar's proportions, the table's columns and footnotes, the
SVG/HTML pictures ``--report`` writes, and a snapshot of what a human reads on stderr."""

from __future__ import annotations

import html.parser
import io
import json
import math
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
    BAR_WIDTH,
    KEYS,
    SECTION_COLOURS,
    CapBar,
    build_report,
    display_status,
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


def test_cli_bar_cells_are_each_sections_share_of_the_cap(runner: CliRunner) -> None:
    """With one token per character, each section's key character appears in the bar as many
    times as its share of the cap's 80 cells (within one), and free room is drawn '░'."""
    args = ["build", str(MEMORY), "--max-tokens", "3000", "--tokenizer", "approx:1"]
    data = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    bar = lines[1]
    assert len(bar) == BAR_WIDTH
    used = [s["tokens_used"] for s in data["sections"]]
    free = 3000 - data["tokens"]
    frame = max(0, data["tokens"] - sum(used))
    total = sum(used) + frame + free
    cells = Counter(bar)
    for i, section in enumerate(data["sections"]):
        exact = BAR_WIDTH * section["tokens_used"] / total
        assert abs(cells[KEYS[i]] - exact) < 1, (section["name"], cells, exact)
        assert f"{KEYS[i]} {section['name']} {section['tokens_used']:,}" in result.stderr
    assert abs(cells["░"] - BAR_WIDTH * free / total) < 1
    assert f"░ free {free:,}" in result.stderr
    # the bar is in report order: each key's cells are one run
    assert "".join(dict.fromkeys(bar)) == "".join(KEYS[: len(used)]) + ("░" if cells["░"] else "")


def test_coloured_bar_draws_blocks_in_each_sections_colour() -> None:
    """With colour, every section is drawn '█' in its own colour, as many cells as its share."""
    result = build_context(load_sections([MEMORY]), max_tokens=1500, tokenizer="approx:1")
    console = Console(file=io.StringIO(), width=120, color_system="truecolor", force_terminal=True)
    segments = list(console.render(CapBar(result, width=60)))
    first_line = []
    for segment in segments:
        if segment.text == "\n":
            break
        first_line.append(segment)
    by_colour: Counter[str] = Counter()
    for segment in first_line:
        if segment.text and set(segment.text) == {"█"} and segment.style is not None:
            by_colour[str(segment.style.color.name if segment.style.color else "")] += len(
                segment.text
            )
    bar = CapBar(result)
    expected = {s.style: s.cells for s in bar.segments(60) if s.glyph in KEYS and s.cells}
    assert dict(by_colour) == expected
    assert set(expected) <= set(SECTION_COLOURS)


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


def test_an_80_column_terminal_shows_every_header_whole() -> None:
    """Columns close up to one space apart when two would not fit: no header is cut."""
    result = build_context(load_sections([MEMORY]), max_tokens=1500)
    text = _plain(build_report(result, preset="default"), width=80)
    header = next(line for line in text.splitlines() if line.startswith("section"))
    assert header.split() == [
        "section", "weight", "status", "demanded", "allocated", "used", "leftover", "kept",
        "trimmed",
    ]  # fmt: skip
    assert max(len(line) for line in text.splitlines()) <= 80
    wide = _plain(build_report(result, preset="default"), width=120)
    assert "section      weight  status" in wide  # two spaces where there is room
