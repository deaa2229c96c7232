"""Ledger URLs: their query options, validated, and their passwords kept out of messages."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from ..._errors import ConfigurationError

__all__ = ["boolean", "choice", "positive_seconds", "redact", "text", "url_options"]


def redact(url: str) -> str:
    """``url`` without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def positive_seconds(value: str) -> float:
    """A positive, finite number of seconds."""
    seconds = float(value)
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError("must be a positive number of seconds")
    return seconds


def boolean(value: str) -> bool:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``), any case."""
    word = value.lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def text(value: str) -> str:
    """A non-empty string."""
    if not value:
        raise ValueError("must not be empty")
    return value


def choice(*values: str) -> Callable[[str], str]:
    """One of ``values``, any case (returned lower-cased)."""

    def convert(value: str) -> str:
        if value.lower() not in values:
            raise ValueError(f"must be one of {', '.join(values)}")
        return value.lower()

    return convert


def url_options(url: str, known: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
    """The query options of a ledger URL, each converted by its entry in ``known``.

    Args:
        url: the ledger URL (``redis://host/0?timeout=2``).
        known: option name -> converter from its text (raises ``ValueError`` when invalid).

    Returns:
        ``{option: value}`` of the options given (the last one wins when repeated).

    Raises:
        ConfigurationError: an option is unknown (the known ones are listed) or its value is
            invalid; the message names the option, the value and the URL (password removed).
    """
    given = parse_qs(urlsplit(url).query, keep_blank_values=True)
    out: dict[str, Any] = {}
    for name, values in given.items():
        convert = known.get(name)
        if convert is None:
            listed = ", ".join(sorted(known)) or "none"
            raise ConfigurationError(
                f"{redact(url)}: unknown URL option {name!r}; known options: {listed}"
            )
        try:
            out[name] = convert(values[-1])
        except ValueError as exc:
            reason = str(exc) if not str(exc).startswith("could not convert") else "is not a number"
            raise ConfigurationError(
                f"{redact(url)}: URL option {name}={values[-1]!r} {reason}"
            ) from None
    return out
