"""``ctxbudget build``, ``count`` and ``presets``: context assembly from the shell.

Each command imports what it uses when it runs (the builder, the tokenizers, Rich), so the
command line starts without them and ``--help`` stays quick.

``build`` writes the context (or ``--json``) to stdout and the report
(:func:`~ctxbudget.cli._report.build_report`) to stderr, and ``--report FILE.svg|FILE.html``
writes the report as a picture too. A PATH ``-`` is one section read from stdin. Exit statuses
(also in each command's ``--help``): 0 done; 2 bad input, one ``error:`` line on stderr and
nothing on stdout; 3 (``build`` only) no section's content fit, every section dropped, failed
or empty, with a ``warning:`` line on stderr saying which (the context, only a template's own
text then, or the JSON, is still written). Names from files (sections, presets) are printed as
plain text, never read as Rich markup, and their control characters as escapes
(:func:`~ctxbudget.cli._app.shown`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .._errors import CtxBudgetError, TemplateError
from .._unicode import has_lone_surrogate, replace_lone_surrogates
from ._app import Paths, TokenizerOpt, app, err, fail, out, presets_app, shown
from ._inputs import STDIN, read_sections, template_message

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..context import BuiltContext, Section

__all__ = ["build", "count", "presets_list", "presets_show"]


#: Exit statuses of ``build`` (and ``count``, which has no 3): printed in ``--help``.
EXIT_OK, EXIT_ERROR, EXIT_NOTHING_FIT = 0, 2, 3
BUILD_EPILOG = (
    "Exit status: 0 built; 1 an unexpected failure (one 'error:' line; --debug shows the "
    "traceback); 2 bad input (a file, preset, tokenizer, template or option; one "
    "'error:' line on stderr, nothing on stdout); 3 no section's content fit (every section "
    "dropped, failed or empty; the context is only a template's own text, if any; a 'warning:' "
    "line on stderr). "
    f"PATH '{STDIN}' reads one section from stdin, named by --stdin-name unless its front "
    "matter names it."
)
COUNT_EPILOG = (
    f"Exit status: 0 counted; 1 an unexpected failure; 2 bad input (one 'error:' line on "
    f"stderr). PATH '{STDIN}' reads "
    "one section from stdin, named by --stdin-name unless its front matter names it."
)
#: ``count`` shows progress on its own (stderr a terminal) from this many files or characters.
PROGRESS_FILES, PROGRESS_CHARS = 50, 1_000_000

StdinNameOpt = Annotated[
    str,
    typer.Option(
        "--stdin-name",
        metavar="NAME",
        help=f"Section name of PATH '{STDIN}' (stdin) when its front matter sets none.",
    ),
]


@app.command(epilog=BUILD_EPILOG)
def build(
    paths: Paths,
    max_tokens: Annotated[
        Optional[int], typer.Option("--max-tokens", "-n", help="The cap, in tokens.")  # noqa: UP045
    ] = None,
    preset: Annotated[str, typer.Option("--preset", "-p", help="Bundled name or YAML file.")] = (
        "default"
    ),
    tokenizer: TokenizerOpt = "o200k_base",
    template: Annotated[
        Optional[Path], typer.Option("--template", help="A Jinja2 template file.")  # noqa: UP045
    ] = None,
    strategy: Annotated[str, typer.Option(help="'weighted' or 'strict'.")] = "weighted",
    as_json: Annotated[
        bool, typer.Option("--json", metavar="", help="Print the full report as JSON.")
    ] = False,
    report: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--report",
            metavar="FILE",
            help="Also write the report as a picture: FILE.svg or FILE.html.",
        ),
    ] = None,
    stdin_name: StdinNameOpt = "stdin",
) -> None:
    """Assemble the sections in PATHS within the cap: context to stdout, report to stderr."""
    from ..context import ContextBuilder

    if report is not None:
        from ._report import EXPORT_SUFFIXES

        if report.suffix.lower() not in EXPORT_SUFFIXES:
            accepted = " or ".join(EXPORT_SUFFIXES)
            fail(ValueError(f"--report {report}: the file must end in {accepted}"))
    try:
        builder = ContextBuilder(
            tokenizer=tokenizer,
            preset=preset,
            max_tokens=max_tokens,
            template=template,
            strategy=strategy,  # type: ignore[arg-type]
        )
        result = builder.build(read_sections(paths, stdin_name))
    except TemplateError as exc:
        fail(exc if template is None else TemplateError(template_message(exc, template)))
        return
    except CtxBudgetError as exc:
        fail(exc)
        return
    picture = None
    if report is not None or not as_json:
        from ._report import build_report, export_report

        picture = build_report(result, preset=preset)
        if report is not None:  # before stdout: a file that cannot be written is bad input
            try:
                export_report(picture, report)
            except OSError as exc:
                fail(OSError(f"--report {report}: cannot write: {exc.strerror or exc}"))
    if as_json:
        print(replace_lone_surrogates(json.dumps(result.to_dict(), ensure_ascii=False, indent=2)))
    else:
        # Exactly the assembled text, which is within the cap: a newline after it could take
        # a piped context one token over. Only a terminal, where nothing is counted, gets one.
        # Lone surrogates cannot reach a UTF-8 stream: written as U+FFFD, which counts the same.
        text = result.text
        text = replace_lone_surrogates(text) if has_lone_surrogate(text) else text
        sys.stdout.write(text + ("\n" if sys.stdout.isatty() else ""))
        sys.stdout.flush()
        err().print(picture)
    if not any(r.items_kept for r in result.sections):
        print(f"warning: {_nothing_fit(result)}", file=sys.stderr)
        raise typer.Exit(EXIT_NOTHING_FIT)


def _nothing_fit(result: BuiltContext) -> str:
    """Why no section kept anything, in one line; what the context then is (empty, or only
    the template's own text), never claimed empty when it is not."""
    status = f"exit status {EXIT_NOTHING_FIT}"
    if result.text:
        context = f"the context is only the template's own text, {result.tokens:,} tokens"
    else:
        context = "the context is empty"
    if not result.sections:
        return f"nothing to assemble: PATHS hold no section; {context} ({status})"
    cap = f"{result.max_tokens:,} tokens" if result.max_tokens is not None else "no cap"
    if all(r.tokens_demanded == 0 for r in result.sections if r.status != "failed"):
        return f"nothing to assemble: every section is empty or failed; {context} ({status})"
    return (
        f"no section's content fit within {cap}: every section was dropped, failed or empty; "
        f"{context} ({status})"
    )


@app.command(epilog=COUNT_EPILOG)
def count(
    paths: Paths,
    tokenizer: TokenizerOpt = "o200k_base",
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print JSON.")] = False,
    progress: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--progress/--no-progress",
            metavar="",
            help="Show progress on stderr while counting (default: when stderr is a terminal "
            f"and there are {PROGRESS_FILES} files or {PROGRESS_CHARS:,} characters or more).",
            show_default=False,
        ),
    ] = None,
    stdin_name: StdinNameOpt = "stdin",
) -> None:
    """Count the tokens of each file in PATHS (front matter and item markers excluded)."""
    from ..tokenizers import get_tokenizer

    try:
        tok = get_tokenizer(tokenizer)
        sections = read_sections(paths, stdin_name)
    except CtxBudgetError as exc:
        fail(exc)
        return
    if progress is None:
        chars = sum(len(_text(s)) for s in sections)
        large = len(sections) >= PROGRESS_FILES or chars >= PROGRESS_CHARS
        progress = large and err().is_terminal
    counts = _counted(sections, tok.count, progress)
    total = sum(counts.values())
    approximate = bool(getattr(tok, "approximate", False))
    if as_json:
        report = {"tokenizer": tok.name, "approximate": approximate, "sections": counts}
        print(json.dumps({**report, "total": total}, indent=2))
        return
    approx = ", approximate" if approximate else ""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"tokens ({shown(tok.name)}{approx})"), title_justify="left")
    table.add_column("section")
    table.add_column("tokens", justify="right")
    for name, n in counts.items():
        table.add_row(Text(shown(name)), f"{n:,}")
    table.add_row("total", f"{total:,}", style="bold")
    out().print(table)


def _text(section: Section) -> str:
    """A file's section as text: its body, or its items one per line (markers stripped)."""
    content = section.content
    if isinstance(content, str):
        return content
    return "\n".join(str(item) for item in content)


def _counted(
    sections: list[Section], count: Callable[[str], int], progress: bool
) -> dict[str, int]:
    """Tokens of each section's text, by name; with ``progress``, a bar on stderr meanwhile
    (cleared when done on a terminal, its last state left elsewhere)."""
    if not progress:
        return {s.name: count(_text(s)) for s in sections}
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = err()
    columns = (TextColumn("counting"), BarColumn(), MofNCompleteColumn(), TextColumn("files"))
    counts: dict[str, int] = {}
    with Progress(
        *columns, TimeElapsedColumn(), console=console, transient=console.is_terminal
    ) as bar:
        task = bar.add_task("count", total=len(sections))
        for s in sections:
            counts[s.name] = count(_text(s))
            bar.advance(task)
    return counts


@presets_app.command("list")
def presets_list() -> None:
    """List the bundled presets."""
    from rich.table import Table
    from rich.text import Text

    from ..context import list_presets, load_preset

    table = Table(title="bundled presets", title_justify="left")
    table.add_column("name")
    table.add_column("cap", justify="right")
    table.add_column("description")
    for name in list_presets():
        p = load_preset(name)
        cap = f"{p.max_tokens:,}" if p.max_tokens is not None else "-"
        table.add_row(Text(shown(name)), cap, Text(shown(p.description)))
    out().print(table)


@presets_app.command("show")
def presets_show(
    name: Annotated[str, typer.Argument(help="Bundled preset name or YAML file.")],
) -> None:
    """Show a preset's weights and options, with inherited values resolved."""
    from rich.table import Table
    from rich.text import Text

    from ..context import load_preset

    try:
        p = load_preset(name)
    except CtxBudgetError as exc:
        fail(exc)
        return
    cap = f"{p.max_tokens:,} tokens" if p.max_tokens is not None else "none (give --max-tokens)"
    heading = f"{shown(p.name)}: {shown(p.description)}"
    table = Table(
        title=Text(f"{heading}\ncap: {cap}; default weight: {p.default_weight:g}"),
        title_justify="left",
    )
    for column in ("section", "weight", "share", "options"):
        table.add_column(column, justify="right" if column in ("weight", "share") else "left")
    weights = p.weights()
    total = sum(weights.values()) or 1.0
    for section, spec in p.sections.items():
        options = spec.model_dump(exclude_none=True, exclude={"weight"})
        table.add_row(
            Text(shown(section)),
            f"{weights[section]:g}",
            f"{weights[section] / total:.0%}",
            Text(shown(", ".join(f"{k}={v}" for k, v in options.items()))),
        )
    out().print(table)
