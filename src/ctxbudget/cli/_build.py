"""``ctxbudget build``, ``count`` and ``presets``: context assembly from the shell.

Each command imports what it uses when it runs (the builder, the tokenizers, Rich), so the
command line starts without them and ``--help`` stays quick.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .._errors import CtxBudgetError
from .._unicode import has_lone_surrogate, replace_lone_surrogates
from ._app import Paths, TokenizerOpt, app, err, fail, out, presets_app

if TYPE_CHECKING:
    from rich.table import Table

    from ..context import BuiltContext

__all__ = ["build", "count", "presets_list", "presets_show"]


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
    from ..context import ContextBuilder, load_sections

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
        fail(exc)
        return
    if as_json:
        print(replace_lone_surrogates(json.dumps(result.to_dict(), ensure_ascii=False, indent=2)))
        return
    # Exactly the assembled text, which is within the cap: a newline after it could take a
    # piped context one token over. Only a terminal, where nothing is counted, gets one.
    # Lone surrogates cannot reach a UTF-8 stream: written as U+FFFD, which counts the same.
    text = replace_lone_surrogates(result.text) if has_lone_surrogate(result.text) else result.text
    sys.stdout.write(text + ("\n" if sys.stdout.isatty() else ""))
    sys.stdout.flush()
    err().print(_report_table(result, preset))


def _report_table(result: BuiltContext, preset: str) -> Table:
    from rich.progress_bar import ProgressBar
    from rich.table import Table

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
    from ..context import load_sections
    from ..tokenizers import get_tokenizer

    try:
        tok = get_tokenizer(tokenizer)
        sections = load_sections(paths)
    except CtxBudgetError as exc:
        fail(exc)
        return
    counts = {s.name: tok.count(s.content) for s in sections if isinstance(s.content, str)}
    total = sum(counts.values())
    approximate = bool(getattr(tok, "approximate", False))
    if as_json:
        report = {"tokenizer": tok.name, "approximate": approximate, "sections": counts}
        print(json.dumps({**report, "total": total}, indent=2))
        return
    approx = ", approximate" if approximate else ""
    from rich.table import Table

    table = Table(title=f"tokens ({tok.name}{approx})", title_justify="left")
    table.add_column("section")
    table.add_column("tokens", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    table.add_row("total", f"{total:,}", style="bold")
    out().print(table)


@presets_app.command("list")
def presets_list() -> None:
    """List the bundled presets."""
    from rich.table import Table

    from ..context import list_presets, load_preset

    table = Table(title="bundled presets", title_justify="left")
    table.add_column("name")
    table.add_column("cap", justify="right")
    table.add_column("description")
    for name in list_presets():
        p = load_preset(name)
        table.add_row(name, f"{p.max_tokens:,}" if p.max_tokens else "-", p.description)
    out().print(table)


@presets_app.command("show")
def presets_show(
    name: Annotated[str, typer.Argument(help="Bundled preset name or YAML file.")],
) -> None:
    """Show a preset's weights and options, with inherited values resolved."""
    from rich.table import Table

    from ..context import load_preset

    try:
        p = load_preset(name)
    except CtxBudgetError as exc:
        fail(exc)
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
    out().print(table)
