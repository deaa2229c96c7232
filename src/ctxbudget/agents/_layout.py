"""The Compactor's window, budgeted by construction: what each part of a request may cost.

A request is, in this order: the system messages (pins), one summary message (the running
summary and the index of archived blocks), the recent turns, and the budget indicator (last, so
that it never changes the prefix a prompt cache matched). Every part but the recent turns has a
fixed ceiling, so the room left for the recent turns is known before any turn arrives:

    window = reply priming + pins + summary message + indicator + room for the recent turns

The summary message's ceiling is its overhead (message tokens, role, headers and joins) plus
``summary_tokens`` plus ``index_tokens``; the indicator's is its widest line. Both are exact
counts of the widest text each part can render, checked again by exact counts when a part is
rendered. :func:`minimum_window` is the smallest window that leaves room for the newest
message clamped (its marker, with :data:`MIN_KEPT_TOKENS` of its head and tail).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import ConfigurationError
from ..context._indicator import budget_indicator
from ..messages import REPLY_PRIMING, message_tokens
from ..typing import Tokenizer

__all__ = [
    "INDEX_HEADER",
    "MIN_INDEX_TOKENS",
    "MIN_KEPT_TOKENS",
    "SUMMARY_HEADER",
    "Budgets",
    "check_indicator",
    "index_lines",
    "indicator_message",
    "minimum_window",
    "summary_content",
    "summary_message_within",
]

SUMMARY_HEADER = "Summary of the earlier conversation:"
INDEX_HEADER = "Archived blocks (ask to expand one by id):"
#: Tokens of text a clamped message keeps at least (its head and tail together).
MIN_KEPT_TOKENS = 24
#: The smallest index budget: one line covering every block as a range.
MIN_INDEX_TOKENS = 48
#: Slack for the tokens joins add between the summary message's parts (newlines merging with
#: the text around them); the exact count of the rendered message is checked anyway.
_JOIN_SLACK = 4
#: The archived-block count the indicator's widest line is measured with.
_WIDEST_ARCHIVED = 10**7


@dataclass(frozen=True)
class Budgets:
    """The fixed ceilings of a Compactor's request, in tokens.

    Attributes:
        window: the context window.
        summary: the running summary's limit.
        index: the archived-block index's limit.
        summary_message: the whole summary message's ceiling (overhead, summary and index).
        indicator: the budget indicator message's ceiling (0 when disabled).
        min_turn: the room the newest message needs at least: clamped, with its marker.
    """

    window: int
    summary: int
    index: int
    summary_message: int
    indicator: int
    min_turn: int

    @property
    def fixed(self) -> int:
        """Tokens every request may spend outside the pins and the recent turns."""
        return REPLY_PRIMING + self.summary_message + self.indicator

    def room(self, pins: int) -> int:
        """Tokens left for the recent turns beside ``pins`` tokens of system messages."""
        return self.window - self.fixed - pins


def _system(content: str, tok: Tokenizer) -> int:
    return message_tokens({"role": "system", "content": content}, tok)


def budgets(
    window: int, summary: int, index: int, indicator: str | None, tok: Tokenizer
) -> Budgets:
    """The ceilings for a window, summary and index budget, and indicator template.

    The summary message's overhead is measured on its headers with empty parts; its ceiling
    adds the two limits and :data:`_JOIN_SLACK`. The indicator's is the exact cost of its
    widest line (used = cap = the window, ten million archived blocks).
    """
    overhead = _system(summary_content("", [], placeholder=True), tok)
    summary_message = overhead + summary + index + _JOIN_SLACK
    widest = 0
    if indicator is not None:
        widest = _system(budget_indicator(window, window, _WIDEST_ARCHIVED, indicator), tok)
    return Budgets(window, summary, index, summary_message, widest, min_turn_tokens(tok))


def min_turn_tokens(tok: Tokenizer) -> int:
    """Room for the newest unit at its smallest: two messages (a tool call and its result, or
    a message and the one answering it) each clamped as far as it goes: the marker at its
    most expensive (:func:`~._clamp.marker_ceiling`) and :data:`MIN_KEPT_TOKENS` of text, in
    the role whose overhead is largest."""
    from ._clamp import marker_ceiling

    clamped = MIN_KEPT_TOKENS + marker_ceiling(tok)
    clamped += max(message_tokens({"role": role, "content": ""}, tok) for role in _ROLES)
    return 2 * clamped


_ROLES = ("user", "assistant", "tool")


def minimum_window(summary: int, index: int, indicator: str | None, tok: Tokenizer) -> int:
    """The smallest window with room for the newest message clamped (``min_turn``) beside the
    fixed parts, in tokens (no pins)."""
    probe = budgets(1_000_000, summary, index, indicator, tok)
    return probe.fixed + probe.min_turn


def summary_content(summary: str, index: Sequence[str], *, placeholder: bool = False) -> str:
    """The summary message's text: the summary under its header, then the index.

    ``placeholder=True`` renders both headers around empty parts (to measure the overhead).
    """
    parts = []
    if summary or placeholder:
        parts.append(f"{SUMMARY_HEADER}\n{summary}")
    if index or placeholder:
        parts.append(INDEX_HEADER + "".join(f"\n{line}" for line in index))
    return "\n\n".join(parts)


def _range_line(blocks: Sequence[Mapping[str, Any]]) -> str:
    tokens = sum(int(b.get("tokens") or 0) for b in blocks)
    if len(blocks) == 1:
        return f"{blocks[0]['id']}: {blocks[0]['description']}"
    first, last = blocks[0], blocks[-1]
    when = ""
    if first.get("start") and last.get("end"):
        when = f", {first['start']} to {last['end']}"
    return f"{first['id']} .. {last['id']}: {len(blocks)} older blocks, {tokens:,} tokens{when}"


def index_lines(blocks: Sequence[Mapping[str, Any]], budget: int, tok: Tokenizer) -> list[str]:
    """One line per archived block (``"id: description"``), oldest first, within ``budget``
    tokens; when they do not fit, the oldest blocks collapse into one range line
    (``"first .. last: N older blocks, T tokens"``), as few as fit. ``[]`` when even one range
    line of every block is over the budget, or there are no blocks.

    The cost of the lines is measured as the index text they make (newline-joined), exactly.
    """
    if not blocks:
        return []

    def lines_for(collapsed: int) -> list[str]:
        head = [_range_line(blocks[:collapsed])] if collapsed else []
        return head + [f"{b['id']}: {b['description']}" for b in blocks[collapsed:]]

    def fits(collapsed: int) -> bool:
        return tok.count("\n".join(lines_for(collapsed))) <= budget

    if fits(0):
        return lines_for(0)
    # Collapsing more blocks never lengthens the index by more than the range line itself:
    # search for the fewest collapsed blocks that fit (a range of all of them is the last try).
    lo, hi = 0, len(blocks)
    if not fits(hi):
        return []
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return lines_for(hi)


def indicator_message(
    tokens_without: int, window: int, archived: int, template: str, tok: Tokenizer
) -> dict[str, str]:
    """The budget indicator as a system message, its numbers including its own cost (a
    fixed point, found in at most four renders)."""
    used = tokens_without
    message = {"role": "system", "content": ""}
    for _ in range(4):
        message = {"role": "system", "content": budget_indicator(used, window, archived, template)}
        total = tokens_without + message_tokens(message, tok)
        if total == used:
            break
        used = total
    return message


def check_indicator(template: object) -> None:
    """Raise a one-line ConfigurationError unless ``template`` renders as an indicator."""
    if template is None:
        return
    try:
        if not isinstance(template, str):
            raise TypeError(f"a str or True, got {type(template).__name__}")
        budget_indicator(1, 2, 3, template)
    except (TypeError, KeyError, ValueError, IndexError, AttributeError) as exc:
        raise ConfigurationError(
            f"indicator must be a str.format template with used, cap, percent and archived "
            f"({exc!r}), got {template!r}"
        ) from None


def summary_message_within(
    state: Any, blocks: Sequence[Mapping[str, Any]], index: int, ceilings: Budgets, tok: Tokenizer
) -> tuple[dict[str, str], int]:
    """The summary message of ``state`` (a :class:`~ctxbudget.SummaryState`) and ``blocks``,
    and its tokens, within ``ceilings.summary_message``: the index collapses first (down to
    :data:`MIN_INDEX_TOKENS`), then the summary is cut, until the exact count fits."""
    ceiling = ceilings.summary_message
    while True:
        lines = index_lines(blocks, index, tok)
        message = {"role": "system", "content": summary_content(state.render(), lines)}
        cost = message_tokens(message, tok)
        if cost <= ceiling:
            return message, cost
        if index > MIN_INDEX_TOKENS:
            index = max(MIN_INDEX_TOKENS, index - (cost - ceiling))
        else:
            state = state.fit(max(0, tok.count(state.render()) - (cost - ceiling)), tok)
