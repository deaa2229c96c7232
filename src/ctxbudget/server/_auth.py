"""Bearer tokens of the HTTP service: read-only and read-write, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .._errors import ConfigurationError

__all__ = ["Access", "ServerSettings", "TokenTable", "parse_tokens"]

Access = Literal["ro", "rw"]


class ServerSettings(BaseSettings):
    """Settings of ``ctxbudget serve``, from ``CTXBUDGET_SERVER_*`` environment variables.

    Attributes:
        tokens: bearer tokens with their access, ``"ro:TOKEN1,rw:TOKEN2"``
            (``CTXBUDGET_SERVER_TOKENS``); required, the service has no anonymous access.
        max_body_bytes: largest request body accepted, in bytes (default 64 KiB); a larger
            one is answered 413.
        settled_keep_s: seconds a settled reservation's outcome is kept, so a replayed
            commit or rollback gets the first answer (default 3600).
        idle_s: seconds a reservation may go without a request about it (renew, commit,
            rollback) before the server rolls it back; ``None`` (default): the budget's lease.
    """

    model_config = SettingsConfigDict(env_prefix="CTXBUDGET_SERVER_", frozen=True, extra="ignore")

    tokens: str = ""
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    settled_keep_s: float = Field(default=3600.0, gt=0, allow_inf_nan=False)
    idle_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)


def parse_tokens(spec: str) -> dict[str, Access]:
    """``"ro:TOKEN1,rw:TOKEN2"`` -> ``{"TOKEN1": "ro", "TOKEN2": "rw"}``.

    Raises:
        ConfigurationError: an entry is not ``ro:<token>`` or ``rw:<token>``, a token is
            shorter than 16 characters, or there is no token at all.
    """
    table: dict[str, Access] = {}
    for number, raw in enumerate(spec.split(","), 1):
        entry = raw.strip()
        if not entry:
            continue
        access, sep, token = entry.partition(":")
        if not sep or access not in ("ro", "rw") or not token:
            raise ConfigurationError(
                f"CTXBUDGET_SERVER_TOKENS entry {number} must be 'ro:<token>' or 'rw:<token>'"
            )
        if len(token) < 16:
            raise ConfigurationError(
                f"CTXBUDGET_SERVER_TOKENS entry {number}: a token needs at least 16 characters"
            )
        table[token] = "ro" if access == "ro" else "rw"
    if not table:
        raise ConfigurationError(
            "no bearer token: set CTXBUDGET_SERVER_TOKENS, e.g. 'ro:<token>,rw:<token>' "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return table


@dataclass(frozen=True)
class TokenTable:
    """The accepted tokens and their access."""

    tokens: Mapping[str, Access]

    def access(self, presented: str | None) -> Access | None:
        """The access of ``presented``, or ``None`` when it matches no token.

        Every token is compared, each with :func:`hmac.compare_digest`, so the time taken
        does not tell which token (or how much of one) matched.
        """
        if not presented:
            return None
        given = presented.encode()
        found: Access | None = None
        for token, access in self.tokens.items():
            if hmac.compare_digest(given, token.encode()):
                found = access
        return found
