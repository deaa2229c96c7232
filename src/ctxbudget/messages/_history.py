"""A chat history as section items for the context builder, formatted lazily."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

from ._formats import MessageFormat, resolve_format
from ._units import Units

__all__ = ["HistoryItems", "history_items"]


class HistoryItems(Sequence[str]):
    """A history as section items, oldest first, each formatted only when read."""

    __hash__ = None  # type: ignore[assignment]  # compared by value, like a list

    def __init__(self, messages: Sequence[Any], fmt: MessageFormat) -> None:
        units = Units(messages, fmt)
        self._units = list(reversed(list(units.newest_first())))
        self._messages = messages
        self._fmt = fmt
        self._label = (lambda m: m["role"]) if fmt.name == "openai" else fmt.role

    def __len__(self) -> int:
        return len(self._units)

    @overload
    def __getitem__(self, k: int) -> str: ...

    @overload
    def __getitem__(self, k: slice) -> list[str]: ...

    def __getitem__(self, k: int | slice) -> str | list[str]:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        m = self._messages
        return "\n".join(f"{self._label(m[i])}: {self._fmt.text(m[i])}" for i in self._units[k])

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
    them their own (required) section. Items are formatted only when read, so a build that
    keeps the newest turns formats only those.

    Raises:
        ConfigurationError: a message is malformed or the format unknown.
    """
    fmt = resolve_format(messages, format)
    for i, m in enumerate(messages):
        fmt.check(m, i)
    return HistoryItems(messages, fmt)
