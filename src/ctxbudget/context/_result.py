"""The report of a build: what was kept, trimmed, dropped or failed, section by section."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from ..memory import Reduction
from ._measure import Cut, MeasuredSection

__all__ = ["BuiltContext", "SectionReport", "Status"]

#: ``full``: every item kept; ``trimmed``: some items (or part of one) removed;
#: ``dropped``: nothing kept; ``failed``: its store raised (see ``error``).
Status = Literal["full", "trimmed", "dropped", "failed"]


class SectionReport:
    """What happened to one section. Token numbers are in tokens of the build's tokenizer.

    Attributes:
        name: the section name.
        title: its header text.
        priority: its priority weight.
        required: whether it was required.
        status: ``"full"``, ``"trimmed"``, ``"dropped"`` or ``"failed"``.
        tokens_demanded: tokens the whole section needs (header included) when
            ``demand_exact``; otherwise a lower bound, because counting stopped once the section
            was known not to fit (items beyond the cap are never counted).
        demand_exact: whether ``tokens_demanded`` is exact.
        tokens_allocated: the section's allocation (0 when dropped before allocation or failed).
        tokens_used: tokens of the kept header and items as measured piece by piece; the exact
            count of the whole assembled text is :attr:`BuiltContext.tokens`.
        items_kept: whole or cut items kept.
        cut: whether the one kept item was cut at token level (with a marker).
        error: ``"ExceptionType: message"`` when the store failed, else ``None``.
        archived_ids: when the builder archives, the id of each trimmed item's own archive
            block, aligned with ``trimmed_items``
            (``archive.get(archived_ids[i]).content == trimmed_items[i]``, a ``str``); else
            ``()``. Blocks are content-addressed, so an item trimmed again by a later build has
            the same id and is not stored again.
        archived_id: ``archived_ids[0]``, the block of the first trimmed item, or ``None``
            (nothing trimmed, or no archive). Before items had blocks of their own, it held
            the whole list of ``trimmed_items``; read ``archived_ids`` for all of them.
        reductions: what each reducer did before trimming (items removed, tokens freed); the
            removed items are archived when the builder archives (ids in
            ``reduction_archive_ids``), and are kept here either way.
    """

    def __init__(
        self,
        *,
        name: str,
        title: str,
        priority: float,
        required: bool,
        status: Status,
        tokens_demanded: int,
        demand_exact: bool,
        tokens_allocated: int,
        tokens_used: int,
        items_kept: int,
        cut: Cut | None = None,
        error: str | None = None,
        measured: MeasuredSection | None = None,
        reductions: list[Reduction] | None = None,
    ) -> None:
        self.name = name
        self.title = title
        self.priority = priority
        self.required = required
        self.status: Status = status
        self.tokens_demanded = tokens_demanded
        self.demand_exact = demand_exact
        self.tokens_allocated = tokens_allocated
        self.tokens_used = tokens_used
        self.items_kept = items_kept
        self.cut = cut is not None
        self.error = error
        self.archived_ids: tuple[str, ...] = ()
        self.archived_id: str | None = None
        self.reductions: list[Reduction] = list(reductions or [])
        self.reduction_archive_ids: list[str] = []
        self._cut = cut
        self._measured = measured

    @cached_property
    def trimmed_items(self) -> list[str]:
        """The items removed, whole, in document order (the removed part of a cut item too).

        Computed on first access: with the kept items, they make up the section's content, so
        a caller can archive them and nothing is lost silently.
        """
        if self._measured is None:
            return []
        return self._measured.removed(self.items_kept, self._cut)

    @property
    def items_trimmed(self) -> int:
        """How many items were removed (a cut item counts as kept)."""
        return len(self.trimmed_items) - (1 if self._cut is not None and self._cut.removed else 0)

    @property
    def tokens_leftover(self) -> int:
        """Tokens used beyond the allocation (``tokens_used - tokens_allocated``, at least 0):
        room other sections left unused, handed on when the leftover was redistributed."""
        return max(0, self.tokens_used - self.tokens_allocated)

    @property
    def demand_text(self) -> str:
        """The demand as the reports show it: ``"-"`` for a failed section (nothing was
        measured), ``"1,234"`` when exact, ``">=1,234"`` for a lower bound (counting stopped
        once the section could not fit)."""
        if self.status == "failed":
            return "-"
        return f"{self.tokens_demanded:,}" if self.demand_exact else f">={self.tokens_demanded:,}"

    @property
    def trimmed_text(self) -> str:
        """The removed items joined by newlines (empty when nothing was removed)."""
        return "\n".join(self.trimmed_items)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data of this report, removed items included."""
        return {
            "name": self.name,
            "title": self.title,
            "priority": self.priority,
            "required": self.required,
            "status": self.status,
            "tokens_demanded": self.tokens_demanded,
            "demand_exact": self.demand_exact,
            "tokens_allocated": self.tokens_allocated,
            "tokens_used": self.tokens_used,
            "items_kept": self.items_kept,
            "items_trimmed": self.items_trimmed,
            "cut": self.cut,
            "error": self.error,
            "archived_id": self.archived_id,
            "archived_ids": list(self.archived_ids),
            "reductions": [
                {
                    "reducer": r.reducer,
                    "items_removed": len(r.removed),
                    "tokens_freed": r.tokens_freed,
                    "removed": r.removed,
                    "added": r.added,
                }
                for r in self.reductions
            ],
            "reduction_archive_ids": self.reduction_archive_ids,
            "trimmed_items": self.trimmed_items,
        }

    def __repr__(self) -> str:
        return (
            f"SectionReport({self.name!r}, status={self.status!r}, "
            f"used={self.tokens_used}, allocated={self.tokens_allocated})"
        )


@dataclass(frozen=True)
class BuiltContext:
    """The assembled context and its report.

    Attributes:
        text: the assembled context window text.
        tokens: exact token count of ``text`` under ``tokenizer``; never above ``max_tokens``.
        max_tokens: the cap in tokens, or ``None`` when no cap was given.
        tokenizer: the tokenizer's name.
        approximate: ``True`` when the tokenizer only estimates (``"approx"``).
        sections: one report per section, highest priority first.
    """

    text: str
    tokens: int
    max_tokens: int | None
    tokenizer: str
    approximate: bool
    sections: tuple[SectionReport, ...] = field(default_factory=tuple)

    def section(self, name: str) -> SectionReport:
        """The report of section ``name``.

        Raises:
            KeyError: no section of that name was in the build.
        """
        for report in self.sections:
            if report.name == name:
                return report
        raise KeyError(f"no section {name!r} in this build")

    @property
    def trimmed(self) -> dict[str, list[str]]:
        """Removed items of every section that lost any, by section name."""
        return {r.name: r.trimmed_items for r in self.sections if r.trimmed_items}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: the text, its token count, the cap and every section report."""
        return {
            "text": self.text,
            "tokens": self.tokens,
            "max_tokens": self.max_tokens,
            "tokenizer": self.tokenizer,
            "approximate": self.approximate,
            "sections": [r.to_dict() for r in self.sections],
        }
