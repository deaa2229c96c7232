"""The ``ctxbudget`` Typer application, its shared options, and one-line errors.

Errors print one line, ``error: ...``, to stderr and exit with status 2 (``--debug`` shows the
traceback instead).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
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
err = Console(stderr=True)
if not err.is_terminal:
    err.width = 120

Paths = Annotated[
    list[Path], typer.Argument(help="Files, or directories of files; one per section.")
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


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


def fail(exc: Exception) -> None:
    if _state["debug"]:
        raise exc
    message = str(exc).replace("\n", " ")
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)


def out() -> Console:
    console = Console()
    if not console.is_terminal:
        console.width = 120
    return console
