"""``ctxbudget session``: inspect and reset session budgets in a ledger.

The session budget (pydantic-settings, the ledgers) and Rich are imported when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .._errors import CtxBudgetError
from ._app import LedgerOpt, fail, out, session_app

if TYPE_CHECKING:
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    from ..session import BudgetStatus, SessionBudget

__all__ = ["session_list", "session_reset", "session_status"]


def _budget(ledger: str | None) -> SessionBudget:
    from ..session import SessionBudget

    return SessionBudget(ledger)


def _fill_bar(status: BudgetStatus) -> ProgressBar | str:
    from rich.progress_bar import ProgressBar

    if not status.cap:
        return "-"
    return ProgressBar(
        total=status.cap, completed=min(status.used + status.reserved, status.cap), width=20
    )


def _status_table(title: str, statuses: list[BudgetStatus]) -> Table:
    from rich.table import Table

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
    session: Annotated[str | None, typer.Argument(help="A session id; all when omitted.")] = (None),
    ledger: LedgerOpt = None,
) -> None:
    """Show the spend of one session (or every session) with its state and a fill bar."""
    try:
        budget = _budget(ledger)
        ids = [session] if session is not None else budget.sessions()
        statuses = [budget.status(s) for s in ids]
    except CtxBudgetError as exc:
        fail(exc)
        return
    out().print(_status_table(f"sessions in {budget.ledger.url}", statuses))


@session_app.command("list")
def session_list(ledger: LedgerOpt = None) -> None:
    """List the session ids the ledger keeps, one per line."""
    try:
        ids = _budget(ledger).sessions()
    except CtxBudgetError as exc:
        fail(exc)
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
        fail(exc)
        return
    if not found:
        fail(CtxBudgetError(f"no session {session!r} in the ledger"))
    print(f"reset session {session}")
