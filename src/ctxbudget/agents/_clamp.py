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

__all__ = ["CLAMP_MARKER", "clamp_message"]

#: Put where a clamped message's middle was; ``{chars}`` characters went to block ``{id}``.
CLAMP_MARKER = "\n[{chars:,} characters clamped; the whole message is archived block {id}]\n"
#: Most attempts at shrinking the kept parts when a join costs more than the parts did.
_ATTEMPTS = 4


def clamp_message(
    message: Mapping[str, Any],
    max_tokens: int,
    tok: Tokenizer,
    archive: Callable[[Mapping[str, Any]], str],
) -> tuple[dict[str, Any], str] | None:
    """A copy of ``message`` that costs at most ``max_tokens`` tokens (its whole chat cost),
    its text's head and tail kept around :data:`CLAMP_MARKER`, and the id of the block that
    ``archive`` stored the original in. ``None`` when its content is not text, it fits
    whole, or not even the marker fits.
    """
    content = message.get("content")
    if not isinstance(content, str) or not content:
        return None
    bare = dict(message, content="")
    rest = message_tokens(bare, tok)
    block_id = ""
    room = max_tokens - rest
    for _ in range(_ATTEMPTS):
        # the marker's cost with the widest numbers it can show, before the id is known
        marker = CLAMP_MARKER.format(chars=len(content), id="0" * 32)
        text_room = room - tok.count(marker) - 2
        if text_room < 2:
            return None
        head_len, _ = fit_length(content, text_room // 2, tokenizer=tok, keep="start")
        rest_text = content[head_len:]
        tail_len, _ = fit_length(rest_text, text_room - text_room // 2, tokenizer=tok, keep="end")
        middle = len(content) - head_len - tail_len
        if middle <= 0:
            return None  # it fits whole: nothing to clamp
        if not block_id:
            block_id = archive(message)
        text = (
            content[:head_len]
            + CLAMP_MARKER.format(chars=middle, id=block_id)
            + content[len(content) - tail_len :]
        )
        clamped = dict(message, content=text)
        over = message_tokens(clamped, tok) - max_tokens
        if over <= 0:
            return clamped, block_id
        room -= over + 1
    return None
