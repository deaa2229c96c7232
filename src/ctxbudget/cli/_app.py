"""The ``ctxbudget`` Typer application, its shared options, and one-line errors.

Errors print one line, ``error: ...``, to stderr and exit with status 2 (``--debug`` shows the
traceback instead); ``build`` exits 3 when nothing fit. ``--version`` prints
``ctxbudget X.Y.Z``. Rich is imported only when a command prints through it (:func:`err`,
:func:`out`), so a command that prints plain text does not pay for it.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["app", "err", "fail", "out", "presets_app", "session_app"]

app = typer.Typer(
    name="ctxbudget",
    help="Assemble an LLM context window from memory sections under a hard token budget.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
presets_app = typer.Typer(help="List and show bundled presets.", no_args_is_help=True)
app.add_typer(presets_app, name="presets")
session_app = typer.Typer(
    help="Inspect and reset session budgets in a ledger.", no_args_is_help=True
)
app.add_typer(session_app, name="session")

LedgerOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--ledger", "-l", help="Ledger URL (default: CTXBUDGET_LEDGER_URL or memory://)."),
]

_state = {"debug": False}

Paths = Annotated[
    list[Path],
    typer.Argument(
        metavar="PATH",
        help="Files, or directories of files; one per section ('-': one from stdin).",
    ),
]
TokenizerOpt = Annotated[
    str,
    typer.Option(
        "--tokenizer",
        "-t",
        help="Encoding, model (gpt-4o, claude-*, gemini-*, llama-3.1...), "
        "'hf:<repo id or tokenizer.json>', 'proxy:<family>' or 'approx'.",
    ),
]


def _print_version(value: bool) -> None:
    if value:
        from .._version import __version__

        print(f"ctxbudget {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", metavar="", help="Show tracebacks on errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar="",
            callback=_print_version,
            is_eager=True,
            help="Print 'ctxbudget X.Y.Z' and exit.",
        ),
    ] = False,
) -> None:
    _state["debug"] = debug


def fail(exc: Exception) -> None:
    if _state["debug"]:
        raise exc
    message = str(exc).replace("\n", " ")
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)


@cache
def err() -> Console:
    """The console on stderr (120 columns wide when it is no terminal), made once."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = 120
    return console


def out() -> Console:
    """A console on stdout (120 columns wide when it is no terminal)."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console.width = 120
    return console
