"""Argument checks shared by every public entry point, each failing with one clear
:class:`~ctxbudget.ConfigurationError` that names the argument and the value given."""

from __future__ import annotations

from ._errors import ConfigurationError

__all__ = ["MAX_COUNT", "whole_number"]

#: Largest token count accepted anywhere (2**48 = 281,474,976,710,656): exact in every
#: ledger's arithmetic (Redis Lua numbers are doubles) and in the float arithmetic of
#: allocation, and far beyond any real context window or budget.
MAX_COUNT = 2**48


def whole_number(
    value: object, what: str, *, minimum: int = 0, unit: str = "", maximum: int | None = None
) -> int:
    """``value`` if it is an ``int`` (not a ``bool``) of at least ``minimum`` (and at most
    ``maximum``, when given).

    Args:
        value: the value given.
        what: its name in the message (``"max_tokens"``).
        minimum: the smallest value accepted.
        unit: ``"tokens"`` or ``""``, for the message.
        maximum: the largest value accepted (``None``: no bound), e.g. :data:`MAX_COUNT`.

    Raises:
        ConfigurationError: ``"max_tokens must be a whole number of tokens >= 0, got -1"``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        of = f" of {unit}" if unit else ""
        raise ConfigurationError(f"{what} must be a whole number{of} >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        shown = f"{value:,}" if value < 10**30 else f"a number of {len(str(value))} digits"
        raise ConfigurationError(f"{what} must be at most {maximum:,}, got {shown}")
    return value
