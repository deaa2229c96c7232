"""Clamping one oversized message: keep its head and tail, archive the whole original.

A tool result of 200k tokens should not evict a conversation's history: it is clamped first
(the head and the tail of its text kept, a marker with the archive id where the middle was),
and the original message goes to the archive whole, so :meth:`Compactor.expand` gives it back
exactly. The work is bounded by the clamp size, not the message's length
(:func:`~ctxbudget.tokenizers._cutting.fit_length`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..messages import message_tokens
from ..tokenizers._cutting import fit_length
from ..typing import Tokenizer

__all__ = [
    "CLAMP_MARKER",
    "clamp_message",
    "marker_ceiling",
    "smallest_clamp",
    "text_slots",
    "with_text",
]

#: Put where a clamped message's middle was; ``{chars}`` characters went to block ``{id}``.
CLAMP_MARKER = "\n[{chars:,} characters clamped; the whole message is archived block {id}]\n"
#: Most attempts at shrinking the kept parts when a join costs more than the parts did.
_ATTEMPTS = 4


Path = tuple[str | int, ...]


def text_slots(message: Mapping[str, Any]) -> list[tuple[Path, str]]:
    """Every text of ``message`` a clamp can shorten, with its path: ``content`` as a str; the
    ``text`` of each content part (OpenAI parts, Anthropic blocks) and of a ``tool_result``
    block's content (a str or parts); the ``text`` of each Gemini part."""
    slots: list[tuple[Path, str]] = []

    def parts(value: Any, path: Path) -> None:
        if isinstance(value, str):
            if value:
                slots.append((path, value))
            return
        if not isinstance(value, list):
            return
        for i, part in enumerate(value):
            if not isinstance(part, Mapping):
                continue
            if isinstance(part.get("text"), str) and part["text"]:
                slots.append(((*path, i, "text"), part["text"]))
            if part.get("type") == "tool_result":
                parts(part.get("content"), (*path, i, "content"))

    parts(message.get("content"), ("content",))
    parts(message.get("parts"), ("parts",))
    return slots


def with_text(message: Mapping[str, Any], path: Path, text: str) -> dict[str, Any]:
    """A copy of ``message`` with the text at ``path`` replaced (the containers on the way
    copied, the rest shared)."""

    def put(value: Any, rest: Path) -> Any:
        if not rest:
            return text
        head = rest[0]
        if isinstance(value, list):
            copy = list(value)
            copy[int(head)] = put(copy[int(head)], rest[1:])
            return copy
        return {**value, head: put(value[head], rest[1:])}

    return dict(put(message, path))


def marker_ceiling(tok: Tokenizer) -> int:
    """The most tokens :data:`CLAMP_MARKER` can cost: its widest count of characters, and a
    32-digit hex id at one token a digit at most (every token is at least one byte)."""
    return tok.count(CLAMP_MARKER.format(chars=10**12, id="")) + 32 + 2


def smallest_clamp(message: Mapping[str, Any], tok: Tokenizer) -> int | None:
    """The fewest tokens :func:`clamp_message` can bring ``message`` to (its longest text cut
    to the marker and a few tokens), or ``None`` when it has no text."""
    slots = text_slots(message)
    if not slots:
        return None
    path, _ = max(slots, key=lambda slot: len(slot[1]))
    return message_tokens(with_text(message, path, ""), tok) + marker_ceiling(tok) + 8


def clamp_message(
    message: Mapping[str, Any],
    max_tokens: int,
    tok: Tokenizer,
    archive: Callable[[Mapping[str, Any]], str],
) -> tuple[dict[str, Any], str] | None:
    """A copy of ``message`` that costs at most ``max_tokens`` tokens (its whole chat cost),
    its longest text's head and tail kept around :data:`CLAMP_MARKER` (the text of any
    format: :func:`text_slots`), and the id of the block that ``archive`` stored the original
    in. ``None`` when it has no text, it fits whole, or not even the marker fits.
    """
    slots = text_slots(message)
    if not slots:
        return None
    path, content = max(slots, key=lambda slot: len(slot[1]))
    if message_tokens(message, tok) <= max_tokens:
        return None  # it fits whole: nothing to clamp
    rest = message_tokens(with_text(message, path, ""), tok)
    block_id = ""
    room = max_tokens - rest
    for _ in range(_ATTEMPTS):
        # the marker's cost with the real id and the widest count it can show
        marker = CLAMP_MARKER.format(chars=len(content), id=block_id or "0" * 32)
        text_room = room - (tok.count(marker) if block_id else marker_ceiling(tok)) - 2
        if text_room < 2:
            return None
        head_len, _ = fit_length(content, text_room // 2, tokenizer=tok, keep="start")
        rest_text = content[head_len:]
        tail_len, _ = fit_length(rest_text, text_room - text_room // 2, tokenizer=tok, keep="end")
        middle = len(content) - head_len - tail_len
        if middle <= 0:
            return None
        if not block_id:
            block_id = archive(message)
        text = (
            content[:head_len]
            + CLAMP_MARKER.format(chars=middle, id=block_id)
            + content[len(content) - tail_len :]
        )
        clamped = with_text(message, path, text)
        over = message_tokens(clamped, tok) - max_tokens
        if over <= 0:
            return clamped, block_id
        room -= over + 1
    return None
