"""The picture of a build: one stacked bar of the cap by section, and a row per section.

:func:`build_report` turns a :class:`~ctxbudget.context.BuiltContext` into a Rich renderable;
``ctxbudget build`` prints it on stderr and :func:`export_report` writes it as SVG or HTML
(``--report FILE``), so the docs can embed exactly what the command shows. Rich is imported
here, at the top: this module is imported only when a report is drawn.

The bar is :data:`BAR_WIDTH` cells wide at most (narrower on a narrower console) and stands for
the whole cap: each section gets cells in proportion to the tokens it used, free room is drawn
``░``, and text of the template outside every section (when there is any) ``▒``. Cells are
shared by largest remainder, so each part's cells differ from its exact share by less than one.
With colour every section is drawn ``█`` in its own colour; without colour (a pipe, a log,
``NO_COLOR``) section ``i`` is drawn with the key character ``KEYS[i]``, named in the legend.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from .._unicode import replace_lone_surrogates
from ._app import shown

if TYPE_CHECKING:
    from ..context import BuiltContext, SectionReport

__all__ = [
    "BAR_WIDTH",
    "EXPORT_HEIGHT",
    "EXPORT_SUFFIXES",
    "EXPORT_WIDTH",
    "KEYS",
    "SECTION_COLOURS",
    "STATUS_STYLES",
    "CapBar",
    "Segment",
    "build_report",
    "display_status",
    "export_report",
    "share_cells",
]

#: Most cells the bar takes, in console columns.
BAR_WIDTH = 80
#: Console width, in columns, of an exported report (fixed, so the file is the same each run).
EXPORT_WIDTH = 120
#: Console height, in lines, of an exported report (fixed too: rich reads TERM=dumb as 80x25
#: unless both width and height are given).
EXPORT_HEIGHT = 25
#: The file suffixes :func:`export_report` writes.
EXPORT_SUFFIXES = (".svg", ".html")
#: Colour of each section in the bar and the table, by position (repeating past the last).
SECTION_COLOURS = (
    "dodger_blue1",
    "orchid",
    "dark_cyan",
    "gold3",
    "salmon1",
    "medium_purple1",
    "sea_green2",
    "light_pink3",
    "steel_blue1",
    "tan",
)
#: Character of section ``i`` in a bar drawn without colour (repeating past the last).
KEYS = "123456789abcdefghijklmnopqrstuvwxyz"
#: Style of each status shown in the table (``empty``: a section with nothing in it).
STATUS_STYLES = {
    "full": "green",
    "trimmed": "yellow",
    "dropped": "red",
    "failed": "bold red",
    "empty": "dim",
}
FREE = "░"
FRAME = "▒"
BLOCK = "█"


@dataclass(frozen=True)
class Segment:
    """One part of the bar: ``tokens`` of the cap, drawn ``cells`` wide."""

    label: str
    tokens: int
    cells: int
    glyph: str
    style: str


def share_cells(values: Iterable[int], width: int) -> list[int]:
    """``width`` cells shared in proportion to ``values`` (tokens) by largest remainder.

    Returns one cell count per value, summing to ``width`` (to 0 when every value is 0); each
    is the floor or the ceiling of its exact share ``width * value / sum(values)``, remainders
    going to the largest fractions first (the earlier value on a tie).

    Raises:
        ValueError: a value or ``width`` is negative.
    """
    values = list(values)
    if width < 0 or any(v < 0 for v in values):
        raise ValueError(f"cells are shared among non-negative values, not {values} in {width}")
    total = sum(values)
    if total == 0:
        return [0] * len(values)
    exact = [width * v / total for v in values]
    cells = [math.floor(e) for e in exact]
    order = sorted(range(len(values)), key=lambda i: (-(exact[i] - cells[i]), i))
    for i in order[: width - sum(cells)]:
        cells[i] += 1
    return cells


def display_status(report: SectionReport) -> str:
    """The status shown for a section: its :data:`~ctxbudget.context.Status`, or ``"empty"``
    for a section reported ``full`` that has nothing in it (0 tokens used)."""
    if report.status == "full" and report.tokens_used == 0:
        return "empty"
    return report.status


class CapBar:
    """The stacked bar of a build's cap and its legend, as a Rich renderable.

    Args:
        result: the build.
        width: cells of the bar; ``None`` for :data:`BAR_WIDTH`, or the console's width when
            it is narrower.
    """

    def __init__(self, result: BuiltContext, width: int | None = None) -> None:
        self.result = result
        self.width = width

    def segments(self, width: int) -> list[Segment]:
        """The bar's parts, sections first (in report order), then template text, then free
        room; ``width`` cells in all. The cells stand for the cap (for the text's tokens when
        there is no cap, or for the parts' sum when it is larger: pieces counted one by one
        can add up to more than the text counts whole)."""
        result = self.result
        used = [r.tokens_used for r in result.sections]
        parts = [
            (
                shown(r.name),
                r.tokens_used,
                KEYS[i % len(KEYS)],
                SECTION_COLOURS[i % len(SECTION_COLOURS)],
            )
            for i, r in enumerate(result.sections)
        ]
        frame = max(0, result.tokens - sum(used))
        if frame:
            parts.append(("template text", frame, FRAME, "grey50"))
        if result.max_tokens is not None:
            parts.append(("free", max(0, result.max_tokens - result.tokens), FREE, "grey35"))
        cells = share_cells((p[1] for p in parts), width)
        return [Segment(p[0], p[1], c, p[2], p[3]) for p, c in zip(parts, cells, strict=True)]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = min(self.width or BAR_WIDTH, options.max_width)
        plain = console.no_color or console.color_system is None
        segments = self.segments(width)
        bar = Text(no_wrap=True, overflow="crop")
        items: list[Text] = []
        for s in segments:
            glyph = s.glyph if plain or s.glyph in (FREE, FRAME) else BLOCK
            bar.append(glyph * s.cells, style=s.style)
            if s.tokens or s.label == "free":
                items.append(Text.assemble((glyph, s.style), f" {s.label} {s.tokens:,}"))
        yield bar
        yield from _packed(items, options.max_width)


def _packed(items: list[Text], width: int) -> list[Text]:
    """``items`` on as few lines of ``width`` columns as fit them whole, two spaces apart."""
    lines: list[Text] = []
    for item in items:
        if lines and lines[-1].cell_len + 2 + item.cell_len <= width:
            lines[-1].append("  ")
            lines[-1].append_text(item)
        else:
            lines.append(item.copy())
    return lines


def _title(result: BuiltContext, preset: str | None) -> Text:
    cap = result.max_tokens
    if cap is not None:  # a cap of 0 is a cap: nothing fits
        share = math.floor(1000 * result.tokens / cap) / 10 if cap else 0.0  # 100% only full
        size = f"{result.tokens:,} / {cap:,} tokens ({share:g}% of the cap)"
    else:
        size = f"{result.tokens:,} tokens (no cap)"
    approx = " (approximate)" if result.approximate else ""
    named = f", preset {shown(preset)}" if preset is not None else ""
    return Text(f"{size}, {shown(result.tokenizer)}{approx}{named}", style="bold")


class _Tight:
    """A table drawn with one space between columns, not two, when two would not fit."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.table.collapse_padding = False
        wide = Measurement.get(console, options.update_width(10_000), self.table).maximum
        self.table.collapse_padding = wide > options.max_width
        yield self.table


def _table(result: BuiltContext) -> tuple[Table, list[tuple[str, str]]]:
    """The per-section table and the footnotes its cells call for, ``(marker, text)``."""
    table = Table(box=None, padding=(0, 1), header_style="bold", pad_edge=False)
    # Only the section column may fold: on a narrow console a long name wraps in its column,
    # and every other column, headers included, stays whole.
    table.add_column("section", overflow="fold", min_width=len("section"))
    table.add_column("weight", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for column in ("demanded", "allocated", "used", "leftover", "kept", "trimmed"):
        table.add_column(column, justify="right", no_wrap=True)
    notes: list[tuple[str, str]] = []
    bound = leftover = cut = False
    for i, r in enumerate(result.sections):
        status = display_status(r)
        bound |= r.status != "failed" and not r.demand_exact
        extra = r.tokens_leftover
        leftover |= extra > 0
        cut |= r.cut
        table.add_row(
            Text(shown(r.name), style=SECTION_COLOURS[i % len(SECTION_COLOURS)]),
            f"{r.priority:g}" + (" req" if r.required else ""),
            Text(status + (" (cut)" if r.cut else ""), style=STATUS_STYLES[status]),
            r.demand_text,
            f"{r.tokens_allocated:,}",
            f"{r.tokens_used:,}",
            f"+{extra:,}" if extra > 0 else "",
            str(r.items_kept),
            str(r.items_trimmed),
        )
        if r.error:
            notes.append((shown(r.name), f"failed: {shown(' '.join(r.error.split()))}"))
    if bound:
        notes.append((">=N", "a lower bound: counting stopped once the section could not fit"))
    if leftover:
        notes.append(
            ("+N", "leftover: used beyond the allocation, room other sections left unused")
        )
    if cut:
        notes.append(("(cut)", "the one kept item was cut at token level, a marker at its end"))
    if any(r.required for r in result.sections):
        notes.append(("req", "a required section: kept whole, never trimmed"))
    pieces = sum(r.tokens_used for r in result.sections)
    if pieces > result.tokens:
        notes.append(
            (
                "used",
                f"counted piece by piece ({pieces:,} in all); the text counts "
                f"{result.tokens:,} whole, as tokens merge where pieces join",
            )
        )
    return table, notes


def build_report(
    result: BuiltContext, *, preset: str | None = None, bar_width: int | None = None
) -> RenderableType:
    """The report of ``result`` as a Rich renderable: a title (tokens of the cap, tokenizer,
    ``preset`` when given), the :class:`CapBar` and its legend, a table with one row per
    section (weight; status; tokens demanded, allocated and used, and how many of the used
    came from room other sections left, "leftover"; items kept and items trimmed) and
    footnotes for what its cells mark.

    Args:
        result: the build.
        preset: the preset's name or file, shown in the title; ``None`` to leave it out.
        bar_width: cells of the bar (see :class:`CapBar`).
    """
    table, notes = _table(result)
    parts: list[RenderableType] = [_title(result, preset), CapBar(result, bar_width), _Tight(table)]
    if notes:
        pad = max(cell_len(marker) for marker, _ in notes) + 2
        lines = [
            Text.assemble((marker + " " * (pad - cell_len(marker)), "bold"), (text, "dim"))
            for marker, text in notes
        ]
        parts.append(Text("\n").join(lines))
    return Group(*parts)


def export_report(report: RenderableType, path: Path, *, title: str = "ctxbudget build") -> None:
    """Write ``report`` to ``path`` as SVG or HTML (by its suffix, :data:`EXPORT_SUFFIXES`),
    drawn :data:`EXPORT_WIDTH` by :data:`EXPORT_HEIGHT` in true colour whatever the environment
    says (``TERM``, ``COLUMNS``, ``LINES``, ``NO_COLOR``, ``FORCE_COLOR``), with no timestamp
    or random id: the same report writes the same file. Lone surrogates (a file name that is
    not UTF-8) are written as U+FFFD. The file is written whole or not at all: a temporary
    file in the same directory replaces ``path``, so a failure leaves an existing file as it
    was.

    Raises:
        ValueError: the suffix is not one of :data:`EXPORT_SUFFIXES`.
        OSError: the file cannot be written.
    """
    suffix = path.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise ValueError(f"{path}: a report is written as {' or '.join(EXPORT_SUFFIXES)}")
    console = Console(
        record=True,
        file=io.StringIO(),
        width=EXPORT_WIDTH,
        height=EXPORT_HEIGHT,
        force_terminal=True,
        force_interactive=False,
        color_system="truecolor",
        legacy_windows=False,
        no_color=False,
    )
    console.print(report)
    if suffix == ".svg":
        data = console.export_svg(title=title, unique_id="ctxbudget-report")
    else:
        data = console.export_html()
    _write_whole(path, replace_lone_surrogates(data))


def _write_whole(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it and :func:`os.replace`."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(data)
        os.chmod(temp, _mode(path))  # mkstemp makes it 0600: give what write_text would
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _mode(path: Path) -> int:
    """The permissions of ``path`` if it exists, else what a new file gets under the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
