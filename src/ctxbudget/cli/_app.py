"""The ``ctxbudget`` Typer application, its shared options, and one-line errors.

Errors print one line, ``error: ...``, to stderr and exit with status 2 (``--debug`` shows the
traceback instead); ``build`` exits 3 when nothing fit. ``--version`` prints
``ctxbudget X.Y.Z``. Rich is imported only when a command prints through it (:func:`err`,
:func:`out`), so a command that prints plain text does not pay for it.
"""

from __future__ import annotations

import re
import sys
from functools import cache
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["app", "err", "fail", "out", "presets_app", "session_app", "shown"]

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

# Strings, not Paths: Path("./-") is "-", and only the argument '-' itself means stdin.
Paths = Annotated[
    list[str],
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


#: C0 and C1 control characters and DEL (a terminal acts on them), newline and tab included.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def shown(text: str) -> str:
    """``text`` as the command line prints it about a name or in a message: each control
    character (C0, DEL, C1; newline and tab too) as a visible escape such as ``\\x1b``, each
    lone surrogate as U+FFFD, so a file name cannot move the cursor or break a line."""
    from .._unicode import replace_lone_surrogates

    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return replace_lone_surrogates(text)


def fail(exc: Exception) -> None:
    """Print ``exc`` as one ``error:`` line (newlines as spaces) and exit 2; re-raise it with
    ``--debug``."""
    if _state["debug"]:
        raise exc
    message = shown(" ".join(str(exc).splitlines()))
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)


#: Size of a console that is no terminal (a pipe, a log), whatever TERM, COLUMNS and LINES say.
PLAIN_SIZE = (120, 25)


def _sized(console: Console) -> Console:
    if not console.is_terminal:  # both set: rich reads neither TERM=dumb (80x25) nor COLUMNS
        console.size = PLAIN_SIZE
    return console


@cache
def err() -> Console:
    """The console on stderr (:data:`PLAIN_SIZE` when it is no terminal), made once."""
    from rich.console import Console

    return _sized(Console(stderr=True))


def out() -> Console:
    """A console on stdout (:data:`PLAIN_SIZE` when it is no terminal)."""
    from rich.console import Console

    return _sized(Console())
