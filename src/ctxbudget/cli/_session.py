"""``ctxbudget session``: inspect and reset session budgets in a ledger.

The session budget (pydantic-settings, the ledgers) and Rich are imported when a command runs.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from .._errors import CtxBudgetError
from ._app import LedgerOpt, fail, out, session_app, shown

if TYPE_CHECKING:
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    from ..session import BudgetStatus, SessionBudget

__all__ = ["session_list", "session_reap", "session_reset", "session_status"]


def _budget(ledger: str | None) -> SessionBudget:
    from ..session import SessionBudget

    return SessionBudget(ledger)


#: The colour of each state, in the state cell and the fill bar.
STATE_STYLES = {"exhausted": "red", "near_cap": "yellow", "active": "green"}


def _fill_bar(status: BudgetStatus) -> ProgressBar | str:
    from rich.progress_bar import ProgressBar

    if not status.cap:
        return "-"
    style = STATE_STYLES.get(status.state, "green")
    return ProgressBar(
        total=status.cap,
        completed=min(status.used + status.reserved, status.cap),
        width=20,
        complete_style=style,
        finished_style=style,
    )


def _as_json(status: BudgetStatus) -> dict[str, object]:
    """A status as JSON data (times as ISO 8601 UTC, cost in US dollars)."""
    data = {f: getattr(status, f) for f in status.__dataclass_fields__}
    for key in ("created", "updated"):
        value = data.get(key)
        data[key] = value.isoformat() if value is not None else None
    return data


def _status_table(title: str, statuses: list[BudgetStatus]) -> Table:
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(shown(title)), title_justify="left")
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
        if column == "scope":  # scope names stay whole (a child's is its parents' and its own)
            widest = max((cell_len(shown(s.scope)) for s in statuses), default=5)
            table.add_column(column, justify="left", no_wrap=True, min_width=widest)
            continue
        table.add_column(column, justify="left" if column == "state" else "right")
    for s in statuses:
        table.add_row(
            Text(shown(s.scope)),
            Text(s.state, style=STATE_STYLES.get(s.state, "green")),
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
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Also show this user's scope.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the spend of one session (or every session) and its nested children, the user's
    scope with --user, and the global scope, each with its state (exhausted red, near cap
    yellow) and a fill bar.

    A session the ledger does not keep is an error. The default ``memory://`` ledger keeps
    nothing between processes: a note on stderr says so.
    """
    try:
        budget = _budget(ledger)
        known = budget.sessions()
        if session is not None and session not in known:
            raise CtxBudgetError(
                f"no session {session!r} in the ledger {budget.ledger.url}"
                + (
                    f" (it keeps: {', '.join(known[:5])}{'...' if len(known) > 5 else ''})"
                    if known
                    else ""
                )
            )
        ids = [session] if session is not None else known
        statuses = [row for s in ids for row in budget.tree(s)]  # each with its children
        if user is not None:
            statuses.append(budget.status(user=user))
        statuses.append(budget.status(scope="global"))
    except CtxBudgetError as exc:
        fail(exc)
        return
    if budget.ledger.url.startswith("memory:"):
        print(
            "note: the memory:// ledger keeps nothing between processes; pass --ledger "
            "(sqlite:///spend.db, redis://...) or set CTXBUDGET_LEDGER_URL",
            file=sys.stderr,
        )
    if as_json:
        print(json.dumps([_as_json(s) for s in statuses], indent=2))
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
        print(shown(session))


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
    print(f"reset session {shown(session)}")


@session_app.command("reap")
def session_reap(ledger: LedgerOpt = None) -> None:
    """Reclaim expired reservations now and forget scopes past retention.

    Every reserve, commit and renew already reclaims expired leases first (amortised in the
    ledger's own step), so this is for a ledger nobody writes to, from cron or by hand.
    """
    try:
        count = _budget(ledger).reap()
    except CtxBudgetError as exc:
        fail(exc)
        return
    print(f"reclaimed {count} expired reservation{'' if count == 1 else 's'}")
