"""The status page at ``/``: server-rendered HTML, no script, refreshed by ``<meta refresh>``.

Each session is a table row ``<tr data-session=ID data-state=STATE>`` with a fill bar coloured
by state: exhausted red, near cap yellow, else green.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ..session import BudgetStatus

__all__ = ["COOKIE", "REFRESH_S", "status_page"]

#: The HttpOnly cookie ``/?token=...`` sets, read by ``/`` only (never by the API routes).
COOKIE = "ctxbudget_token"
#: Seconds between automatic refreshes.
REFRESH_S = 5
#: The colour of each state's bar.
COLOURS = {"exhausted": "#d32f2f", "near_cap": "#f9a825", "active": "#2e7d32"}

_STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:4px 12px;text-align:left}
tr+tr{border-top:1px solid #ddd}.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{width:200px;height:12px;background:#eee;border-radius:3px;overflow:hidden}
.fill{height:100%}
"""


def _row(session: str, status: BudgetStatus) -> str:
    fill = min(status.fill or 0.0, 1.0)
    colour = COLOURS.get(status.state, COLOURS["active"])
    cap = "-" if status.cap is None else str(status.cap)
    sid, state = escape(session), escape(status.state)
    return (
        f'<tr data-session="{sid}" data-state="{state}"><td>{sid}</td>'
        f'<td class="state" style="color:{colour}">{state}</td>'
        f'<td><div class="bar"><div class="fill" style="width:{fill * 100:.1f}%;'
        f'background:{colour}"></div></div></td>'
        f'<td class="num">{status.used}</td><td class="num">{status.reserved}</td>'
        f'<td class="num">{cap}</td><td class="num">{status.calls}</td>'
        f'<td class="num">{status.cost:.4f}</td></tr>'
    )


def status_page(rows: Sequence[tuple[str, BudgetStatus]], *, total: int) -> str:
    """The page's HTML for ``rows`` (session id, status); ``total``: sessions listed."""
    body = "".join(_row(s, st) for s, st in rows) or (
        '<tr><td colspan="8">No session in the ledger yet.</td></tr>'
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_S}">'
        f"<title>ctxbudget sessions</title><style>{_STYLE}</style></head><body>"
        f"<h1>Session budgets</h1><p>{total} sessions, refreshed every {REFRESH_S} s.</p>"
        '<table id="sessions"><thead><tr><th>session</th><th>state</th><th>fill</th>'
        '<th class="num">used</th><th class="num">reserved</th><th class="num">cap</th>'
        '<th class="num">calls</th><th class="num">cost (USD)</th></tr></thead>'
        f"<tbody>{body}</tbody></table></body></html>"
    )
