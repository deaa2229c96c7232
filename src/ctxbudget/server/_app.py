"""The ASGI application: routes, bearer auth, body limits and JSON errors.

Every answer that is not a success is ``{"error": {"code": ..., "message": ...}}`` with a
stable ``code``: ``unauthorized`` (401), ``forbidden`` (403), ``not_found`` (404),
``method_not_allowed`` (405), ``unknown_reservation`` (404), ``unknown_session`` (404),
``budget_exhausted`` (409), ``rate_limited`` (429), ``reservation_settled`` (409),
``lease_expired`` (409), ``body_too_large`` (413), ``invalid_json`` (400), ``invalid_body``
(422, with ``fields``), ``invalid_request`` (422), ``ledger_unavailable`` (503).
Ledger steps run in Starlette's worker threads, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._errors import ConfigurationError, CtxBudgetError
from ..session import Reservation, SessionBudget
from ..session._scopes import id_scope
from ._auth import Access, ServerSettings, TokenTable, parse_tokens
from ._holds import Entry, Holds
from ._http import ApiError, cursor_id, cursor_of, ledger_error, read_body
from ._metrics import Metrics
from ._models import CommitBody, EmptyBody, RenewBody, ReserveBody, status_json
from ._openapi import openapi
from ._page import COOKIE, status_page

__all__ = ["ApiError", "create_app"]

M = TypeVar("M", bound=BaseModel)
#: Sessions the status page lists, at most (the first by id).
PAGE_ROWS = 500
Handler = Callable[[Request], Awaitable[Response]]


class _Service:
    """The routes over one budget."""

    def __init__(self, budget: SessionBudget, tokens: TokenTable, settings: ServerSettings):
        self.budget = budget
        self.tokens = tokens
        self.max_body = settings.max_body_bytes
        idle = settings.idle_s if settings.idle_s is not None else budget.lease_s
        self.holds = Holds(idle_s=idle, keep_s=settings.settled_keep_s)
        self.metrics = Metrics(budget, self.holds)

    # -- plumbing --------------------------------------------------------------------------

    def authorize(self, request: Request, *, write: bool, cookie: bool = False) -> Access:
        """The caller's access, from ``Authorization: Bearer`` (or the page's cookie).

        Raises:
            ApiError: 401 without a valid token, 403 for a read-only token on a write.
        """
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        token = presented.strip() if scheme.lower() == "bearer" else None
        if token is None and cookie:
            token = request.cookies.get(COOKIE)
        access = self.tokens.access(token)
        if access is None:
            raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>'")
        if write and access != "rw":
            raise ApiError(403, "forbidden", "this token is read-only; writes need an rw token")
        return access

    async def body(self, request: Request, model: type[M]) -> M:
        """The body as ``model`` (see :func:`read_body`)."""
        return await read_body(request, model, self.max_body)

    def entry(self, request: Request) -> Entry:
        """The reservation named in the path.

        Raises:
            ApiError: 404 ``unknown_reservation``.
        """
        reservation_id = request.path_params["id"]
        entry = self.holds.get(reservation_id)
        if entry is None:
            raise ApiError(
                404,
                "unknown_reservation",
                f"no reservation {reservation_id!r} is held by this server (it never was, "
                "or it was settled long ago, or the server restarted)",
            )
        return entry

    # -- reading ---------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def session_budget(self, request: Request) -> Response:
        self.authorize(request, write=False)
        session = request.path_params["id"]

        def read() -> dict[str, Any]:
            if self.budget.ledger.status(id_scope("session", session)) is None:
                raise ApiError(404, "unknown_session", f"the ledger has no session {session!r}")
            tree = self.budget.tree(session)
            return {
                "session": session,
                **status_json(tree[0]),
                "tree": [status_json(s) for s in tree],
            }

        return JSONResponse(await self.call(read))

    async def sessions(self, request: Request) -> Response:
        self.authorize(request, write=False)
        limit_text = request.query_params.get("limit", "100")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 1000:
            raise ApiError(422, "invalid_request", "limit must be a whole number from 1 to 1000")
        limit = int(limit_text)
        after = cursor_id(request.query_params.get("cursor"))

        def read() -> dict[str, Any]:
            ids = [s for s in self.budget.sessions() if after is None or s > after]
            page = ids[:limit]
            more = len(ids) > limit
            rows = [{"session": s, **status_json(self.budget.status(s))} for s in page]
            cursor = cursor_of(page[-1]) if more and page else None
            return {"sessions": rows, "next_cursor": cursor}

        return JSONResponse(await self.call(read))

    async def metrics_text(self, request: Request) -> Response:
        self.authorize(request, write=False)
        body, content_type = await run_in_threadpool(self.metrics.render)
        return Response(body, media_type=content_type)

    async def openapi_json(self, request: Request) -> Response:
        self.authorize(request, write=False)
        return JSONResponse(openapi())

    async def page(self, request: Request) -> Response:
        token = request.query_params.get("token")
        if token is not None:
            if self.tokens.access(token) is None:
                raise ApiError(401, "unauthorized", "the token given in ?token= is not valid")
            response = Response(status_code=303, headers={"Location": "/"})
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
            return response
        self.authorize(request, write=False, cookie=True)

        def render() -> str:
            ids = self.budget.sessions()
            rows = [(s, self.budget.status(s)) for s in ids[:PAGE_ROWS]]
            return status_page(rows, total=len(ids))

        return Response(await self.call(render), media_type="text/html; charset=utf-8")

    # -- writing ---------------------------------------------------------------------------

    async def reserve(self, request: Request) -> Response:
        self.authorize(request, write=True)
        body = await self.body(request, ReserveBody)
        key = body.idempotency_key or request.headers.get("idempotency-key") or None

        def step() -> Reservation:
            return self.budget.reserve(
                body.tokens,
                session=body.session,
                user=body.user,
                conversation=body.conversation,
                idempotency_key=key,
            )

        try:
            reservation = await self.call(step)
        except ApiError as exc:
            self.metrics.refused(exc.code)
            raise
        replayed = not self.holds.add(reservation)  # only a key can name a held reservation
        if not replayed:
            self.metrics.reserved(reservation.tokens)
        entry = self.holds.get(reservation.id)
        state = entry.outcome[1]["state"] if entry and entry.outcome else reservation.state
        return JSONResponse(
            {
                "id": reservation.id,
                "tokens": reservation.tokens,
                "state": state,
                "scopes": list(reservation.scopes),
                "lease_s": self.budget.lease_s,
            },
            status_code=200 if replayed else 201,
            headers={"Idempotent-Replayed": "true"} if replayed else None,
        )

    async def commit(self, request: Request) -> Response:
        self.authorize(request, write=True)
        body = await self.body(request, CommitBody)
        entry = self.entry(request)

        def step(reservation: Reservation) -> dict[str, Any]:
            reservation.commit(
                body.input_tokens,
                body.output_tokens,
                body.model,
                cached_input_tokens=body.cached_input_tokens,
                cache_write_tokens=body.cache_write_tokens,
            )
            self.metrics.committed(body.input_tokens, body.output_tokens)
            return {
                "id": reservation.id,
                "state": "committed",
                "input_tokens": body.input_tokens,
                "output_tokens": body.output_tokens,
                "model": body.model,
                "lease_had_expired": reservation.lease_had_expired,
            }

        return await self.settle(entry, "commit", step)

    async def rollback(self, request: Request) -> Response:
        self.authorize(request, write=True)
        await self.body(request, EmptyBody)
        entry = self.entry(request)

        def step(reservation: Reservation) -> dict[str, Any]:
            reservation.rollback()
            return {"id": reservation.id, "state": "rolled_back"}

        return await self.settle(entry, "rollback", step)

    async def renew(self, request: Request) -> Response:
        self.authorize(request, write=True)
        body = await self.body(request, RenewBody)
        entry = self.entry(request)
        if entry.outcome is not None:
            raise ApiError(
                409,
                "reservation_settled",
                "cannot renew: it is settled",
                state=entry.outcome[1]["state"],
            )
        lease = body.lease_s if body.lease_s is not None else self.budget.lease_s
        await self.call(lambda: entry.reservation.renew(lease))
        return JSONResponse({"id": entry.reservation.id, "state": "active", "lease_s": lease})

    async def settle(
        self, entry: Entry, action: str, step: Callable[[Reservation], dict[str, Any]]
    ) -> Response:
        """Settle once; a replay of the same action gets the first answer (with the header
        ``Idempotent-Replayed: true``), a different action 409 ``reservation_settled``."""
        first, done, body = await self.call(lambda: self.holds.settle(entry, action, step))
        if not first and done != action:
            raise ApiError(
                409,
                "reservation_settled",
                f"reservation {entry.reservation.id}: cannot {action}: it is "
                f"{body['state'].replace('_', ' ')}",
                state=body["state"],
            )
        headers = None if first else {"Idempotent-Replayed": "true"}
        return JSONResponse(body, headers=headers)

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Run a ledger step in a worker thread; the budget's errors become answers."""
        try:
            return await run_in_threadpool(fn)
        except CtxBudgetError as exc:
            raise ledger_error(exc) from exc


def _answering(service: _Service, handler: Handler) -> Handler:
    """``handler`` with :class:`ApiError` turned into its answer, and counted."""

    async def endpoint(request: Request) -> Response:
        try:
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        service.metrics.request(request.method, handler.__name__, response.status_code)
        return response

    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "internal_error")
    message = exc.detail if isinstance(exc, HTTPException) else "internal error"
    return ApiError(status, code, str(message)).response()


def create_app(
    budget: SessionBudget,
    *,
    tokens: str | dict[str, Access] | None = None,
    settings: ServerSettings | None = None,
) -> Starlette:
    """The HTTP service over ``budget``, an ASGI application (run it with uvicorn).

    Args:
        budget: the session budget served; its ledger should be shared (SQLite, PostgreSQL,
            Redis) when other processes spend too.
        tokens: ``"ro:TOKEN1,rw:TOKEN2"`` or ``{token: "ro" | "rw"}``; ``None``: the
            settings' ``tokens`` (``CTXBUDGET_SERVER_TOKENS``).
        settings: body limit, outcome retention, idle timeout (:class:`ServerSettings`,
            read from ``CTXBUDGET_SERVER_*`` when not given).

    Returns:
        A Starlette application with the routes listed in ``docs/operations.md``.

    Raises:
        ConfigurationError: no token, or a malformed token entry.
    """
    settings = settings if settings is not None else ServerSettings()
    spec = settings.tokens if tokens is None else tokens
    table = parse_tokens(spec) if isinstance(spec, str) else dict(spec)
    if not table or any(a not in ("ro", "rw") for a in table.values()):
        raise ConfigurationError("tokens must map each token to 'ro' or 'rw', and not be empty")
    service = _Service(budget, TokenTable(table), settings)
    s = service
    routes = [
        ("/", s.page, ["GET"]),
        ("/healthz", s.healthz, ["GET"]),
        ("/metrics", s.metrics_text, ["GET"]),
        ("/openapi.json", s.openapi_json, ["GET"]),
        ("/v1/sessions", s.sessions, ["GET"]),
        ("/v1/sessions/{id}/budget", s.session_budget, ["GET"]),
        ("/v1/reservations", s.reserve, ["POST"]),
        ("/v1/reservations/{id}/commit", s.commit, ["POST"]),
        ("/v1/reservations/{id}/rollback", s.rollback, ["POST"]),
        ("/v1/reservations/{id}/renew", s.renew, ["POST"]),
    ]
    app = Starlette(
        routes=[Route(p, _answering(s, h), methods=m) for p, h, m in routes],
        exception_handlers={HTTPException: _http_error, Exception: _http_error},
    )
    app.state.service = service
    return app
