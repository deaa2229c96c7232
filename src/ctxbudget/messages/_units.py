"""Units of a history: messages kept or dropped together, found from the newest message."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Any

from .._errors import ConfigurationError
from ._formats import MessageFormat, indices, resolve_format

__all__ = ["Units", "group_turns", "pinned_indices"]


class Units:
    """The units of a history, found lazily from the newest message (or all at once)."""

    def __init__(self, messages: Sequence[Any], fmt: MessageFormat) -> None:
        self.messages = messages
        self.fmt = fmt
        roles = fmt.roles(messages)
        self.system = indices(roles, "system")
        self.roles = roles

    def start_of(self, i: int) -> int:
        """The first message of the unit that holds message ``i``."""
        m, fmt, roles = self.messages, self.fmt, self.roles
        while i > 0 and roles[i - 1] != "system" and fmt.links_back(m[i], m[i - 1]):
            i -= 1
        return i

    def end_of(self, i: int) -> int:
        """The last message of the unit that holds message ``i``."""
        m, fmt, roles = self.messages, self.fmt, self.roles
        while i + 1 < len(m) and roles[i + 1] != "system" and fmt.links_back(m[i + 1], m[i]):
            i += 1
        return i

    def newest_first(self) -> Iterator[range]:
        """Units from the newest, system messages left out."""
        i = len(self.messages) - 1
        while i >= 0:
            if self.roles[i] == "system":
                i -= 1
                continue
            start = self.start_of(i)
            yield range(start, i + 1)
            i = start - 1

    def orphans(self, unit: range) -> set[str]:
        """Ids answered in ``unit`` whose call is not in it."""
        calls: set[str] = set()
        answers: set[str] = set()
        for i in unit:
            calls.update(self.fmt.calls(self.messages[i]))
            answers.update(self.fmt.answers(self.messages[i]))
        return answers - calls

    def unanswered(self, unit: range) -> set[str]:
        """Ids of calls in ``unit`` with no answer in it."""
        calls: set[str] = set()
        answers: set[str] = set()
        for i in unit:
            calls.update(self.fmt.calls(self.messages[i]))
            answers.update(self.fmt.answers(self.messages[i]))
        return calls - answers


def group_turns(
    messages: Sequence[Any],
    *,
    format: str | MessageFormat = "auto",
) -> list[list[int]]:
    """Indices of the non-system messages in units kept or dropped together, oldest first:
    a tool call with all its results (parallel calls too), a reasoning item with its call."""
    units = Units(messages, resolve_format(messages, format))
    return [list(u) for u in reversed(list(units.newest_first()))]


def pinned_indices(messages: Sequence[Any], pinned: Collection[Any]) -> set[int]:
    """Indices of the messages ``pinned`` names: an index, a message id (``"id"`` key or
    attribute), or the message object itself.

    Raises:
        ConfigurationError: a pin names no message (the message says which).
    """
    if not pinned:
        return set()
    want_ids = {p for p in pinned if isinstance(p, str)}
    want_index = {p for p in pinned if isinstance(p, int) and not isinstance(p, bool)}
    want_objects = {id(p) for p in pinned if not isinstance(p, (str, int))}
    n = len(messages)
    found = {p % n for p in want_index if -n <= p < n}
    missing: list[Any] = [p for p in want_index if not -n <= p < n]
    seen_ids: set[str] = set()
    seen_objects: set[int] = set()
    if want_ids or want_objects:
        for i, m in enumerate(messages):
            mid = m.get("id") if isinstance(m, dict) else getattr(m, "id", None)
            if id(m) in want_objects:
                found.add(i)
                seen_objects.add(id(m))
            if mid is not None and mid in want_ids:
                found.add(i)
                seen_ids.add(mid)
    missing += sorted(want_ids - seen_ids)
    missing += ["a message object"] * len(want_objects - seen_objects)
    if missing:
        raise ConfigurationError(f"pinned names no message of the history: {missing}")
    return found
