"""Argument checks shared by every public entry point, each failing with one clear
:class:`~ctxbudget.ConfigurationError` that names the argument and the value given."""

from __future__ import annotations

from ._errors import ConfigurationError

__all__ = ["whole_number"]


def whole_number(value: object, what: str, *, minimum: int = 0, unit: str = "") -> int:
    """``value`` if it is an ``int`` (not a ``bool``) of at least ``minimum``.

    Args:
        value: the value given.
        what: its name in the message (``"max_tokens"``).
        minimum: the smallest value accepted.
        unit: ``"tokens"`` or ``""``, for the message.

    Raises:
        ConfigurationError: ``"max_tokens must be a whole number of tokens >= 0, got -1"``.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        of = f" of {unit}" if unit else ""
        raise ConfigurationError(f"{what} must be a whole number{of} >= {minimum}, got {value!r}")
    return value
