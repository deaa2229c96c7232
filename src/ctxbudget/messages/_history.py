"""A chat history as section items for the context builder, formatted lazily."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from ._formats import MessageFormat, resolve_format

__all__ = ["HistoryItems", "history_items"]


class HistoryItems(Sequence[str]):
    """A history as section items, oldest first, each formatted (and checked) only when read.

    The units are found when it is made (a light pass over the roles, with no counting or
    formatting); an item's text is built when it is read, so a build that keeps the newest
    turns formats only those, whatever the length of the history.
    """

    __hash__ = None  # type: ignore[assignment]  # compared by value, like a list

    def __init__(self, messages: Sequence[Any], fmt: MessageFormat) -> None:
        self._messages = messages
        self._fmt = fmt
        self._starts = fmt.unit_starts(messages)
        self._label = (lambda m: m["role"]) if fmt.name == "openai" else fmt.role

    def __len__(self) -> int:
        return len(self._starts)

    def _item(self, k: int) -> str:
        start = self._starts[k]
        end = self._starts[k + 1] if k + 1 < len(self._starts) else len(self._messages)
        m, fmt = self._messages, self._fmt
        lines = []
        for j in range(start, end):
            fmt.check(m[j], j)
            if fmt.role(m[j]) != "system":  # a system message ends a unit; it is not part of it
                lines.append(f"{self._label(m[j])}: {fmt.text(m[j])}")
        return "\n".join(lines)

    @overload
    def __getitem__(self, k: int) -> str: ...

    @overload
    def __getitem__(self, k: slice) -> list[str]: ...

    def __getitem__(self, k: int | slice) -> str | list[str]:
        if isinstance(k, slice):
            return [self._item(i) for i in range(*k.indices(len(self)))]
        n = len(self)
        if not -n <= k < n:
            raise IndexError(k)
        return self._item(k % n)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"HistoryItems({len(self)} items)"


def history_items(
    messages: Sequence[Any],
    *,
    format: str | MessageFormat = "auto",
) -> HistoryItems:
    """A history as section items for :func:`~ctxbudget.build_context`, oldest first.

    Each unit (a message, or a tool call with its results) is one item of
    ``"role: text"`` lines (tool calls shown as ``"[tool call name(arguments)]"``), so
    trimming never separates a call from its results. System messages are left out: give
    them their own (required) section. Items are formatted and checked only when read, so a
    build that keeps the newest turns reads only those (see :class:`HistoryItems`).

    Raises:
        ConfigurationError: the format is unknown; a malformed message raises when its item
            is read.
    """
    return HistoryItems(messages, resolve_format(messages, format))
