"""The HTTP service over a session budget (``ctxbudget serve``), behind ``ctxbudget[server]``.

An ASGI application on Starlette, run by uvicorn, with Prometheus metrics through
``prometheus-client``. Never imported by ``import ctxbudget``.

>>> from ctxbudget import SessionBudget
>>> from ctxbudget.server import create_app
>>> app = create_app(SessionBudget("memory://"), tokens="rw:" + "t" * 32)

Raises:
    ImportError: on import, when the extra is missing (the message names
        ``pip install 'ctxbudget[server]'``).
"""

from __future__ import annotations

try:
    import prometheus_client  # noqa: F401
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"the HTTP service needs {exc.name}: pip install 'ctxbudget[server]'"
    ) from exc

from ._app import ApiError, create_app
from ._auth import Access, ServerSettings, parse_tokens

__all__ = ["Access", "ApiError", "ServerSettings", "create_app", "parse_tokens"]
