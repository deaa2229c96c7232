"""The one error tree of ctxbudget.

Every error the library raises on purpose derives from :class:`CtxBudgetError`::

    CtxBudgetError
    ├── ConfigurationError        a bad argument, option, preset, URL or template (a ValueError)
    │   ├── TokenizerError        a tokenizer spec is unknown or its vocabulary cannot be loaded
    │   ├── PresetError           a preset file is missing, malformed or invalid (file:line: key)
    │   ├── SectionError          a section, its options or its content are invalid
    │   └── TemplateError         the assembly template does not parse or fails to render
    ├── BudgetError               a cap or budget cannot be honoured
    │   ├── RequiredSectionsExceedCap   required sections alone do not fit the cap
    │   └── BudgetExhausted       a reservation would take a scope past its cap, quota or rate
    ├── ReservationError          a reservation was settled twice, or is unknown
    ├── StoreError                a required memory store raised while gathering
    ├── LedgerError               the ledger's store failed (cause chained)
    └── ArchiveError              the archive's store failed, or content cannot be archived

``except BudgetError`` catches exactly "there is not enough room": what to do is to trim,
summarize, wait or raise the cap. ``except ConfigurationError`` (or ``ValueError``) catches every
bad input. Errors carry the data a caller can act on as attributes, and their message says what
to do next.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ArchiveError",
    "BudgetError",
    "BudgetExhausted",
    "ConfigurationError",
    "CtxBudgetError",
    "LedgerError",
    "PresetError",
    "RequiredSectionsExceedCap",
    "ReservationError",
    "SectionError",
    "StoreError",
    "TemplateError",
    "TokenizerError",
]


class CtxBudgetError(Exception):
    """Base class of every error ctxbudget raises on purpose."""


class ConfigurationError(CtxBudgetError, ValueError):
    """An argument, section option, preset, ledger URL or template is invalid; the message
    names the offending value and what is accepted."""


class TokenizerError(ConfigurationError):
    """A tokenizer spec is unknown, or its vocabulary cannot be loaded offline.

    Attributes:
        spec: the spec that was asked for (``"o200k_base"``, ``"gpt-4o"``, ``"hf:path"``...).
    """

    def __init__(self, message: str, *, spec: str) -> None:
        super().__init__(message)
        self.spec = spec


class PresetError(ConfigurationError):
    """A preset is missing, is not valid YAML, or does not validate.

    Attributes:
        source: the preset's file path or bundled name.
        key: dotted path of the offending key (``"sections.summaries.weight"``), or ``None``.
        line: 1-based line of the offending key in ``source``, or ``None`` when unknown.
    """

    def __init__(
        self, message: str, *, source: str, key: str | None = None, line: int | None = None
    ) -> None:
        where = source
        if line is not None:
            where += f":{line}"
        if key is not None:
            where += f": {key}"
        super().__init__(f"{where}: {message}")
        self.source = source
        self.key = key
        self.line = line
        self.reason = message


class SectionError(ConfigurationError):
    """A section, its options or its content are invalid.

    Attributes:
        section: the section's name.
    """

    def __init__(self, message: str, *, section: str) -> None:
        super().__init__(f"section {section!r}: {message}")
        self.section = section
        self.reason = message


class StoreError(CtxBudgetError):
    """A memory store raised while gathering a *required* section (the cause is chained).

    A store of an optional section that raises does not raise this: its section is reported
    with status ``"failed"`` instead.

    Attributes:
        section: the section (store) name.
    """

    def __init__(self, message: str, *, section: str) -> None:
        super().__init__(f"section {section!r}: {message}")
        self.section = section


class TemplateError(ConfigurationError):
    """The Jinja2 assembly template does not parse, or fails while rendering (cause chained).

    Attributes:
        line: 1-based line in the template where Jinja2 reports the problem, or ``None``.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message if line is None else f"template line {line}: {message}")
        self.line = line


class BudgetError(CtxBudgetError):
    """A cap or budget cannot be honoured: there is not enough room for what was asked."""


class RequiredSectionsExceedCap(BudgetError):
    """Required sections alone, with their headers, need more tokens than the cap allows.

    Also raised when one required section alone is larger than its own ``max_tokens``: required
    content is never trimmed, so the section's limit cannot be honoured either.

    Attributes:
        needed: tokens the required sections need, template text included.
        cap: the cap (``max_tokens``) of the build, or the section's own ``max_tokens``, in
            tokens.
        sections: names of the required sections.
        section_limit: ``True`` when ``cap`` is the one section's own ``max_tokens``.
    """

    def __init__(
        self, *, needed: int, cap: int, sections: Sequence[str], section_limit: bool = False
    ) -> None:
        names = ", ".join(repr(s) for s in sections)
        if section_limit:
            message = (
                f"required section {names} needs {needed} tokens but its own max_tokens is "
                f"{cap}: required content is never trimmed, so raise the section's max_tokens "
                f"to at least {needed}, shorten it, or mark it not required"
            )
        else:
            message = (
                f"required sections {names} need {needed} tokens but the cap is {cap}: "
                f"raise max_tokens to at least {needed}, or mark a section not required "
                f"so it can be trimmed"
            )
        super().__init__(message)
        self.section_limit = section_limit
        self.needed = needed
        self.cap = cap
        self.sections = tuple(sections)


class BudgetExhausted(BudgetError):
    """A reservation would take a scope past its cap, quota or rate limit; nothing was held.

    Attributes:
        scope: the scope that refused, e.g. ``"session:abc"`` or ``"user:u1@day:2026-11-21"``.
        used: tokens committed in that scope.
        reserved: tokens held there by open reservations.
        cap: the scope's cap (or quota, or tokens per minute).
        requested: tokens the refused reservation asked for.
        available: ``max(0, cap - used - reserved)``.
    """

    def __init__(self, *, scope: str, used: int, reserved: int, cap: int, requested: int) -> None:
        available = max(0, cap - used - reserved)
        if available > 0:
            hint = (
                f"trim the prompt to at most {available} tokens (prompt plus output), or summarize"
            )
        else:
            hint = (
                "summarize or compact the conversation, wait for the next period, or raise the cap"
            )
        super().__init__(
            f"{scope}: requesting {requested} tokens would exceed the cap of {cap} "
            f"({used} used, {reserved} reserved, {available} available): {hint}"
        )
        self.scope = scope
        self.used = used
        self.reserved = reserved
        self.cap = cap
        self.requested = requested
        self.available = available


class ReservationError(CtxBudgetError):
    """A reservation was settled twice (commit after commit or rollback, and the like).

    Attributes:
        reservation_id: the reservation's id.
        state: its state when the call came: ``"committed"``, ``"rolled_back"`` or unknown.
    """

    def __init__(self, message: str, *, reservation_id: str, state: str) -> None:
        super().__init__(f"reservation {reservation_id}: {message}")
        self.reservation_id = reservation_id
        self.state = state


class LedgerError(CtxBudgetError):
    """The ledger's store failed (the driver's error is chained) or is misconfigured.

    Attributes:
        url: the ledger URL (password removed), or ``None``.
    """

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message if url is None else f"{url}: {message}")
        self.url = url


class ArchiveError(CtxBudgetError):
    """The archive's store failed (the driver's error is chained), or content cannot be stored
    so that it reads back exactly.

    Attributes:
        url: the archive URL, or ``None``.
    """

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message if url is None else f"{url}: {message}")
        self.url = url
