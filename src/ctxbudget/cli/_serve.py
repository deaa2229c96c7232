"""``ctxbudget serve``: the HTTP service over a session budget, run by uvicorn.

Starlette, uvicorn and prometheus-client (``ctxbudget[server]``) are imported when the
command runs. Bearer tokens come from ``CTXBUDGET_SERVER_TOKENS`` (``ro:TOKEN1,rw:TOKEN2``),
never from the command line, where other users of the host could read them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .._errors import ConfigurationError, CtxBudgetError
from ._app import LedgerOpt, app, fail

__all__ = ["serve"]


@app.command("serve")
def serve(
    ledger: LedgerOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port.", min=0, max=65535)] = 8000,
    log_level: Annotated[
        str, typer.Option("--log-level", help="uvicorn's log level (info, warning...).")
    ] = "info",
) -> None:
    """Serve a session budget over HTTP (routes in docs/operations.md, "The HTTP service").

    Reservations made over HTTP are held by this process and renewed while it runs; after a
    restart the ledger reclaims them once their lease has passed.
    """
    try:
        try:
            import uvicorn

            from ..server import create_app
        except ImportError as exc:
            raise ConfigurationError(
                f"ctxbudget serve needs {exc.name}: pip install 'ctxbudget[server]'"
            ) from exc
        from ..session import SessionBudget

        service = create_app(SessionBudget(ledger))
    except CtxBudgetError as exc:
        fail(exc)
        return
    uvicorn.run(service, host=host, port=port, log_level=log_level)
