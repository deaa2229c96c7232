"""Repairing a history that is already broken, reporting every change.

Providers refuse a history whose tool calls and results do not pair up (OpenAI: "messages with
role 'tool' must be a response to a preceding message with 'tool_calls'"; Anthropic:
"unexpected tool_use_id"). :func:`repair_messages` makes each unit (a call with its results)
whole: results whose call is not right before them are removed, calls left without results
are removed (except in the newest message, whose calls may still be running), and a call id
used again by a later call is renamed in that call and its results. A message left empty is
dropped. Changed messages are copies; the others are the original objects.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._formats import MessageFormat, resolve_format
from ._units import Units

__all__ = ["RepairedMessages", "repair_messages"]


@dataclass(frozen=True)
class RepairedMessages:
    """A repaired history.

    Attributes:
        messages: the history after repair (unchanged messages are the original objects).
        changes: one line per change, naming the message index and the ids.
        format: the message format used.
    """

    messages: list[Any]
    changes: list[str] = field(default_factory=list)
    format: str = "openai"


_ID_FIELDS = ("id", "tool_call_id", "tool_use_id", "call_id")


def _renamed(value: Any, old: str, new: str) -> Any:
    """A deep copy of a dict message with every id field equal to ``old`` set to ``new``."""
    if isinstance(value, Mapping):
        return {
            k: (new if k in _ID_FIELDS and str(v) == old else _renamed(v, old, new))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_renamed(v, old, new) for v in value]
    return value


def repair_messages(
    messages: Sequence[Any],
    *,
    format: str | MessageFormat = "auto",
) -> RepairedMessages:
    """Fix orphan results, calls without results and duplicated call ids; report each change.

    Args:
        messages: the history, oldest first.
        format: the message format, or ``"auto"``.

    Returns:
        A :class:`RepairedMessages`; ``changes`` is empty when the history was valid.

    Raises:
        ConfigurationError: a message is malformed or the format unknown.
    """
    fmt = resolve_format(messages, format)
    for i, m in enumerate(messages):
        fmt.check(m, i)
    units = Units(messages, fmt)
    out: dict[int, Any] = dict(enumerate(messages))
    changes: list[str] = []
    seen: set[str] = set()
    ordered = list(reversed(list(units.newest_first())))
    for n, unit in enumerate(ordered):
        orphans = units.orphans(unit)
        unanswered = units.unanswered(unit) if n < len(ordered) - 1 else set()
        for i in unit:
            m = out[i]
            drop_a = orphans & set(fmt.answers(m))
            drop_c = unanswered & set(fmt.calls(m))
            if drop_a:
                m = fmt.without_answers(m, drop_a)
                changes.append(
                    f"message {i}: removed results {sorted(drop_a)} whose call is not "
                    f"right before them"
                    + ("; the message was left empty and dropped" if m is None else "")
                )
            if drop_c and m is not None:
                m = fmt.without_calls(m, drop_c)
                changes.append(
                    f"message {i}: removed calls {sorted(drop_c)} that have no result"
                    + ("; the message was left empty and dropped" if m is None else "")
                )
            if m is None:
                del out[i]
            else:
                out[i] = m
        calls = [c for i in unit if i in out for c in fmt.calls(out[i])]
        for old in sorted(set(calls) & seen):
            new = f"{old}~{n}"
            for i in unit:
                if i in out and isinstance(out[i], Mapping):
                    out[i] = _renamed(copy.copy(out[i]), old, new)
            changes.append(
                f"messages {unit.start}-{unit.stop - 1}: call id {old!r} was "
                f"used before; renamed {new!r}"
            )
        seen.update(calls)
    return RepairedMessages([out[i] for i in sorted(out)], changes, fmt.name)
