"""Settings of the session budget, from arguments or ``CTXBUDGET_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["BudgetSettings"]


class BudgetSettings(BaseSettings):
    """Defaults of :class:`~ctxbudget.SessionBudget`, overridable by environment variables.

    Every field reads ``CTXBUDGET_<FIELD>`` (``CTXBUDGET_SESSION_TOKEN_CAP=50000``). Frozen.

    Attributes:
        session_token_cap: cap of each session, in tokens (default 100,000).
        soft_warn_ratio: share of a cap at which ``soft_warned`` fires (default 0.8).
        ledger_url: where spend is kept: ``memory://`` (default), ``sqlite:///path.db``,
            ``redis://host:port/db``.
        reservation_lease_s: seconds a reservation holds tokens before it expires (300).
        retention_s: seconds a scope is kept after its last update (7 days).
    """

    model_config = SettingsConfigDict(env_prefix="CTXBUDGET_", frozen=True, extra="ignore")

    session_token_cap: int | None = Field(default=100_000, gt=0)
    soft_warn_ratio: float = Field(default=0.8, gt=0, le=1, allow_inf_nan=False)
    ledger_url: str = "memory://"
    reservation_lease_s: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    retention_s: float = Field(default=7 * 24 * 3600.0, gt=0, allow_inf_nan=False)
