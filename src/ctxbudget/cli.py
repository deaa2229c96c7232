"""The ``ctxbudget`` command line: build, count, presets.

Errors print one line, ``error: ...``, to stderr and exit with status 2 (``--debug`` shows the
traceback instead).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress_bar import ProgressBar
from rich.table import Table

from ._budget import BudgetStatus, SessionBudget
from ._builder import ContextBuilder
from ._errors import CtxBudgetError
from ._files import load_sections
from ._presets import list_presets, load_preset
from ._result import BuiltContext
from ._tokenizers import get_tokenizer

__all__ = ["app", "main"]

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
_err = Console(stderr=True)
if not _err.is_terminal:
    _err.width = 120

Paths = Annotated[
    list[Path], typer.Argument(help="Files, or directories of files; one per section.")
]
TokenizerOpt = Annotated[
    str,
    typer.Option("--tokenizer", "-t", help="Encoding, model, 'hf:<tokenizer.json>' or 'approx'."),
]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


def _fail(exc: Exception) -> None:
    if _state["debug"]:
        raise exc
    message = str(exc).replace("\n", " ")
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(2)


@app.command()
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Assemble the sections in PATHS within the cap: context to stdout, report to stderr."""
    try:
        builder = ContextBuilder(
            tokenizer=tokenizer,
            preset=preset,
            max_tokens=max_tokens,
            template=template,
            strategy=strategy,  # type: ignore[arg-type]
        )
        result = builder.build(load_sections(paths))
    except CtxBudgetError as exc:
        _fail(exc)
        return
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    sys.stdout.write(result.text + "\n")
    sys.stdout.flush()
    _err.print(_report_table(result, preset))


def _report_table(result: BuiltContext, preset: str) -> Table:
    cap = result.max_tokens
    approx = " (approximate)" if result.approximate else ""
    limit = f" / {cap:,}" if cap is not None else " (no cap)"
    table = Table(
        title=f"{result.tokens:,}{limit} tokens, {result.tokenizer}{approx}, preset {preset}",
        title_justify="left",
    )
    for column in (
        "section",
        "weight",
        "status",
        "demanded",
        "allocated",
        "used",
        "kept",
        "trimmed",
    ):
        table.add_column(column, justify="left" if column in ("section", "status") else "right")
    table.add_column("share of cap")
    scale = cap or max(result.tokens, 1)
    for r in result.sections:
        demanded = f"{r.tokens_demanded:,}" if r.demand_exact else f">={r.tokens_demanded:,}"
        table.add_row(
            r.name,
            f"{r.priority:g}",
            r.status + (" (cut)" if r.cut else "") + (f": {r.error}" if r.error else ""),
            demanded if r.status != "failed" else "-",
            f"{r.tokens_allocated:,}",
            f"{r.tokens_used:,}",
            str(r.items_kept),
            str(r.items_trimmed),
            ProgressBar(total=scale, completed=min(r.tokens_used, scale), width=20),
        )
    return table


@app.command()
def count(
    paths: Paths,
    tokenizer: TokenizerOpt = "o200k_base",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Count the tokens of each file in PATHS (front matter excluded)."""
    try:
        tok = get_tokenizer(tokenizer)
        sections = load_sections(paths)
    except CtxBudgetError as exc:
        _fail(exc)
        return
    counts = {s.name: tok.count(s.content) for s in sections if isinstance(s.content, str)}
    total = sum(counts.values())
    if as_json:
        print(json.dumps({"tokenizer": tok.name, "sections": counts, "total": total}, indent=2))
        return
    table = Table(title=f"tokens ({tok.name})", title_justify="left")
    table.add_column("section")
    table.add_column("tokens", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    table.add_row("total", f"{total:,}", style="bold")
    _out().print(table)


@presets_app.command("list")
def presets_list() -> None:
    """List the bundled presets."""
    table = Table(title="bundled presets", title_justify="left")
    table.add_column("name")
    table.add_column("cap", justify="right")
    table.add_column("description")
    for name in list_presets():
        p = load_preset(name)
        table.add_row(name, f"{p.max_tokens:,}" if p.max_tokens else "-", p.description)
    _out().print(table)


@presets_app.command("show")
def presets_show(
    name: Annotated[str, typer.Argument(help="Bundled preset name or YAML file.")],
) -> None:
    """Show a preset's weights and options, with inherited values resolved."""
    try:
        p = load_preset(name)
    except CtxBudgetError as exc:
        _fail(exc)
        return
    cap = f"{p.max_tokens:,} tokens" if p.max_tokens else "none (give --max-tokens)"
    table = Table(
        title=f"{p.name}: {p.description}\ncap: {cap}; default weight: {p.default_weight:g}",
        title_justify="left",
    )
    for column in ("section", "weight", "share", "options"):
        table.add_column(column, justify="right" if column in ("weight", "share") else "left")
    weights = p.weights()
    total = sum(weights.values()) or 1.0
    for section, spec in p.sections.items():
        options = spec.model_dump(exclude_none=True, exclude={"weight"})
        table.add_row(
            section,
            f"{weights[section]:g}",
            f"{weights[section] / total:.0%}",
            ", ".join(f"{k}={v}" for k, v in options.items()),
        )
    _out().print(table)


def _budget(ledger: str | None) -> SessionBudget:
    return SessionBudget(ledger)


def _fill_bar(status: BudgetStatus) -> ProgressBar | str:
    if not status.cap:
        return "-"
    return ProgressBar(
        total=status.cap, completed=min(status.used + status.reserved, status.cap), width=20
    )


def _status_table(title: str, statuses: list[BudgetStatus]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in (
        "scope",
        "state",
        "used",
        "reserved",
        "remaining",
        "cap",
        "calls",
        "cost ($)",
        "updated (UTC)",
        "fill",
    ):
        table.add_column(column, justify="left" if column in ("scope", "state") else "right")
    for s in statuses:
        table.add_row(
            s.scope,
            s.state,
            f"{s.used:,}",
            f"{s.reserved:,}",
            "-" if s.remaining is None else f"{s.remaining:,}",
            "-" if s.cap is None else f"{s.cap:,}",
            str(s.calls),
            f"{s.cost:.4f}",
            s.updated.strftime("%Y-%m-%d %H:%M:%S") if s.updated else "-",
            _fill_bar(s),
        )
    return table


@session_app.command("status")
def session_status(
    session: Annotated[Optional[str], typer.Argument(help="A session id; all when omitted.")] = (  # noqa: UP045
        None
    ),
    ledger: LedgerOpt = None,
) -> None:
    """Show the spend of one session (or every session) with its state and a fill bar."""
    try:
        budget = _budget(ledger)
        ids = [session] if session is not None else budget.sessions()
        statuses = [budget.status(s) for s in ids]
    except CtxBudgetError as exc:
        _fail(exc)
        return
    _out().print(_status_table(f"sessions in {budget.ledger.url}", statuses))


@session_app.command("list")
def session_list(ledger: LedgerOpt = None) -> None:
    """List the session ids the ledger keeps, one per line."""
    try:
        ids = _budget(ledger).sessions()
    except CtxBudgetError as exc:
        _fail(exc)
        return
    for session in ids:
        print(session)


@session_app.command("reset")
def session_reset(
    session: Annotated[str, typer.Argument(help="The session id.")],
    ledger: LedgerOpt = None,
) -> None:
    """Forget a session's spend; it starts again from zero."""
    try:
        found = _budget(ledger).reset(session)
    except CtxBudgetError as exc:
        _fail(exc)
        return
    if not found:
        _fail(CtxBudgetError(f"no session {session!r} in the ledger"))
    print(f"reset session {session}")


def _out() -> Console:
    console = Console()
    if not console.is_terminal:
        console.width = 120
    return console


def main() -> None:
    """Entry point of the ``ctxbudget`` command."""
    app()
