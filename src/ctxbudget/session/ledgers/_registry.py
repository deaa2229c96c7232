"""The ledger factory: a URL's scheme picks the ledger class."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..._errors import ConfigurationError
from ._base import Ledger, schemes_registry
from ._memory import MemoryLedger
from ._sqlite import SQLiteLedger
from ._url import redact

__all__ = ["ledger_from_url", "ledger_schemes"]

#: Defining a ledger class registers its schemes; these are the built-in ones.
_BUILTIN = (MemoryLedger, SQLiteLedger)


class _LazyRedis(Ledger):
    """Stands in for the Redis ledger until first use, so ``redis`` is imported only then."""

    schemes = ("redis", "rediss", "redis+cluster", "rediss+cluster")

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Ledger:
        from ._redis import RedisLedger

        return RedisLedger.from_url(url, **options)


def ledger_schemes() -> list[str]:
    """URL schemes of every known ledger, sorted (``memory``, ``redis``, ``sqlite``...)."""
    return sorted(schemes_registry)


def ledger_from_url(url: str, **options: Any) -> Ledger:
    """The ledger for ``url``: ``memory://``, ``sqlite:///path.db``, ``redis://host:port/db``.

    Args:
        url: the ledger URL; its scheme picks the ledger class.
        options: passed to the ledger class (e.g. ``key_prefix``, ``fail_open`` for Redis).

    Raises:
        ConfigurationError: the scheme is unknown (the message lists the known ones), or the
            URL or one of its options is malformed (the message names the option).
        LedgerError: the store cannot be opened, or an optional driver is missing (the message
            names ``pip install 'ctxbudget[redis]'``).
    """
    scheme = urlsplit(url).scheme
    cls = schemes_registry.get(scheme)
    if cls is None:
        known = ", ".join(f"{s}://" for s in sorted(schemes_registry))
        raise ConfigurationError(
            f"{redact(url)}: unknown ledger scheme {scheme!r}; known schemes: {known}"
        )
    return cls.from_url(url, **options)
