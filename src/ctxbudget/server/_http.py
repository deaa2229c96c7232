"""The HTTP plumbing of the service: JSON error answers, the budget's errors mapped to them,
bodies read under a size limit and validated, and page cursors."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from .._errors import BudgetExhausted, CtxBudgetError, LedgerError, ReservationError

__all__ = ["ApiError", "cursor_id", "cursor_of", "ledger_error", "read_body"]

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """An error answer: HTTP ``status``, a stable ``code``, a message, extra JSON fields."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> JSONResponse:
        """The ``{"error": {...}}`` answer (401 adds ``WWW-Authenticate: Bearer``)."""
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        body = {"error": {"code": self.code, "message": self.message, **self.extra}}
        return JSONResponse(body, status_code=self.status, headers=headers)


def ledger_error(exc: CtxBudgetError) -> ApiError:
    """The answer to an error of the session budget."""
    if isinstance(exc, BudgetExhausted):
        rate = exc.scope.startswith("rate:")
        numbers = {"used": exc.used, "reserved": exc.reserved, "cap": exc.cap}
        return ApiError(
            429 if rate else 409,
            "rate_limited" if rate else "budget_exhausted",
            str(exc),
            scope=exc.scope,
            requested=exc.requested,
            available=exc.available,
            **numbers,
        )
    if isinstance(exc, ReservationError):
        code = "lease_expired" if exc.state == "expired" else "reservation_settled"
        return ApiError(409, code, str(exc), state=exc.state)
    if isinstance(exc, LedgerError):
        return ApiError(503, "ledger_unavailable", str(exc))
    return ApiError(422, "invalid_request", str(exc))


async def read_body(request: Request, model: type[M], max_body: int) -> M:
    """The request body read (at most ``max_body`` bytes) and validated as ``model``;
    an empty body reads as ``{}``.

    Raises:
        ApiError: 413 too large, 400 not a JSON object, 422 naming each bad field.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body:
        raise ApiError(413, "body_too_large", f"a body may have at most {max_body} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > max_body:
            raise ApiError(413, "body_too_large", f"a body may have at most {max_body} bytes")
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        message = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        raise ApiError(422, "invalid_body", message, fields=fields) from None


def cursor_of(session: str) -> str:
    """The opaque cursor after ``session`` (its id, base64url without padding)."""
    return base64.urlsafe_b64encode(session.encode()).decode().rstrip("=")


def cursor_id(cursor: str | None) -> str | None:
    """The session id a cursor names, or ``None`` for no cursor.

    Raises:
        ApiError: 422 ``invalid_request``, a cursor this server did not give.
    """
    if not cursor:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(422, "invalid_request", "cursor is not one this server gave") from None
