"""Request bodies of the HTTP service (pydantic, strict: ``"5"`` is not a token count) and
the JSON shapes of its answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..session import MAX_TOKENS, BudgetStatus

__all__ = ["CommitBody", "EmptyBody", "RenewBody", "ReserveBody", "status_json"]

_Id = Field(min_length=1, max_length=256)


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ReserveBody(_Body):
    """``POST /v1/reservations``: hold ``tokens`` (1 to 2**48) in a session's scopes.

    ``idempotency_key`` (or the ``Idempotency-Key`` header) makes a retried request a replay:
    the same reservation, held once.
    """

    tokens: int = Field(ge=1, le=MAX_TOKENS)
    session: str = _Id
    user: str | None = Field(default=None, min_length=1, max_length=256)
    conversation: str | None = Field(default=None, min_length=1, max_length=256)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=256)


class CommitBody(_Body):
    """``POST /v1/reservations/{id}/commit``: the call's actual usage, in tokens."""

    input_tokens: int = Field(ge=0, le=MAX_TOKENS)
    output_tokens: int = Field(ge=0, le=MAX_TOKENS)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    cached_input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS)
    cache_write_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS)


class RenewBody(_Body):
    """``POST /v1/reservations/{id}/renew``: the new lease in seconds (default: the budget's)."""

    lease_s: float | None = Field(default=None, gt=0, le=7 * 24 * 3600, allow_inf_nan=False)


class EmptyBody(_Body):
    """``POST /v1/reservations/{id}/rollback``: no fields (an empty body is fine)."""


def status_json(status: BudgetStatus) -> dict[str, Any]:
    """A :class:`~ctxbudget.session.BudgetStatus` as JSON data: tokens as ints, ``cost`` in
    US dollars, ``created``/``updated`` as ISO 8601 UTC strings or ``None``, ``fill`` as
    ``(used + reserved) / cap`` or ``None``."""
    data: dict[str, Any] = {f: getattr(status, f) for f in status.__dataclass_fields__}
    for key in ("created", "updated"):
        value = data[key]
        data[key] = value.isoformat() if value is not None else None
    data["fill"] = status.fill
    return data
