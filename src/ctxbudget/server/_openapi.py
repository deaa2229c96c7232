"""The OpenAPI 3.1 document served at ``/openapi.json``; bodies' schemas come from the
pydantic models, so the document and the validation cannot drift apart."""

from __future__ import annotations

from functools import cache
from typing import Any

from .._version import __version__
from ._models import CommitBody, RenewBody, ReserveBody

__all__ = ["openapi"]

_ERROR = {"$ref": "#/components/schemas/Error"}


def _answers(ok: str, *errors: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        ok: {
            "description": "success",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
    for status in (401, 403, *errors):
        out[str(status)] = {
            "description": "error",
            "content": {"application/json": {"schema": _ERROR}},
        }
    return out


def _post(summary: str, body: str | None, ok: str, *errors: int) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": _answers(ok, 413, 422, *errors)}
    if body is not None:
        ref = {"$ref": f"#/components/schemas/{body}"}
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref}}}
    return {"post": op}


_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]


@cache
def openapi() -> dict[str, Any]:
    """The document (a JSON-ready dict, built once)."""
    schemas = {m.__name__: m.model_json_schema() for m in (ReserveBody, CommitBody, RenewBody)}
    schemas["Error"] = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    }
    page = {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
    }
    cursor = {"name": "cursor", "in": "query", "schema": {"type": "string"}}
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "summary": "Liveness (no token)",
                "security": [],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/v1/sessions": {
            "get": {
                "summary": "Sessions, paged by id",
                "parameters": [page, cursor],
                "responses": _answers("200", 422),
            }
        },
        "/v1/sessions/{id}/budget": {
            "get": {
                "summary": "A session's budget and scope tree",
                "parameters": _ID,
                "responses": _answers("200", 404),
            }
        },
        "/v1/reservations": _post("Hold tokens", "ReserveBody", "201", 409, 429),
        "/v1/reservations/{id}/commit": _post("Commit usage", "CommitBody", "200", 404, 409),
        "/v1/reservations/{id}/rollback": _post("Release the hold", None, "200", 404, 409),
        "/v1/reservations/{id}/renew": _post("Extend the lease", "RenewBody", "200", 404, 409),
        "/metrics": {"get": {"summary": "Prometheus text", "responses": _answers("200")}},
        "/": {"get": {"summary": "HTML status page", "responses": _answers("200")}},
    }
    for name, item in paths.items():
        if "{id}" in name and "post" in item:
            item["post"]["parameters"] = _ID
    return {
        "openapi": "3.1.0",
        "info": {"title": "ctxbudget session budget", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
