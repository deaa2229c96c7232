"""The chat-message token rule: what one message, and a whole prompt, cost in tokens.

The ``openai`` (and ``langchain``) format of :mod:`ctxbudget.messages._formats` applies it; so
:func:`~ctxbudget.fit_messages`, :func:`~ctxbudget.count_prompt` (and ``guard``'s
reservations), the Compactor and :func:`~ctxbudget.history_items` share it.

Source: OpenAI's cookbook "How to count tokens with tiktoken" (``num_tokens_from_messages``, for
gpt-3.5-turbo-0613 and later, gpt-4, gpt-4o): each message costs 3 tokens plus the tokens of its
role and content, a ``name`` costs 1 more token plus its own, and every reply is primed with 3
tokens. Tool calls are not covered by that rule; each call is counted as the tokens of its
function name and arguments plus 3 (an estimate, flagged ``estimated`` where reported).

Image parts (``{"type": "image_url", "image_url": {"url": ..., "detail": ...}}``) follow
OpenAI's "Images and vision" guide, "Calculating costs" (GPT-4o): ``detail: "low"`` costs 85
tokens; otherwise the image is scaled to fit 2048 x 2048, then its shortest side to 768, and
costs 85 + 170 per 512-pixel tile. Without the image's size (a URL says nothing of it), an
image that is not ``low`` is charged the largest that rule can give, 85 + 170 x 8 = 1,445
tokens: an upper bound, flagged ``estimated``. Models that price images otherwise (gpt-4o-mini
multiplies them for billing) are not modelled here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import ConfigurationError
from ..typing import Tokenizer

__all__ = [
    "IMAGE_LOW_TOKENS",
    "IMAGE_MAX_TOKENS",
    "REPLY_PRIMING",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "TOKENS_PER_TOOL_CALL",
    "Message",
    "Prompt",
    "check_message",
    "image_tokens",
    "is_estimated",
    "message_cost",
    "message_text",
    "tool_calls",
]

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
TOKENS_PER_TOOL_CALL = 3  # estimate: not in OpenAI's published rule
#: An image part with ``detail: "low"`` (OpenAI, "Images and vision": 85 tokens).
IMAGE_LOW_TOKENS = 85
#: Upper bound of any other image under the same rule: 85 + 170 per tile, at most 8 tiles.
IMAGE_MAX_TOKENS = 85 + 170 * 8

#: A chat message: a mapping with a string ``role``.
Message = Mapping[str, Any]
#: A prompt: one text, or chat messages.
Prompt = str | Sequence[Message]


def message_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or the ``text`` of its parts.

    Raises:
        ConfigurationError: the content is neither text, ``None`` nor a list of parts.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    raise ConfigurationError(f"message content must be text or a list of parts, got {content!r}")


def image_parts(content: Any) -> list[Mapping[str, Any]]:
    """The image parts of a message's content (``type`` ``"image_url"`` or ``"image"``)."""
    if isinstance(content, str) or not isinstance(content, Sequence):
        return []
    return [
        part
        for part in content
        if isinstance(part, Mapping) and part.get("type") in ("image_url", "image")
    ]


def image_tokens(part: Mapping[str, Any]) -> int:
    """Tokens of one image part under the module's image rule (85 for ``low`` detail, else the
    rule's upper bound of 1,445)."""
    spec = part.get("image_url")
    detail = spec.get("detail") if isinstance(spec, Mapping) else part.get("detail")
    return IMAGE_LOW_TOKENS if detail == "low" else IMAGE_MAX_TOKENS


def is_estimated(message: Message) -> bool:
    """Whether a message's cost includes estimates: tool calls, or images of unknown size."""
    if message.get("tool_calls"):
        return True
    return any(image_tokens(p) != IMAGE_LOW_TOKENS for p in image_parts(message.get("content")))


def check_message(message: object) -> None:
    """Raise :class:`~ctxbudget.ConfigurationError` unless ``message`` is a mapping with a string
    ``role``."""
    if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
        raise ConfigurationError(
            f"a message must be a mapping with a string 'role', got {message!r}"
        )


def tool_calls(message: Message) -> list[tuple[str, str]]:
    """``(function name, arguments as text)`` of each tool call of an assistant message; a call
    whose ``function`` is missing or null counts as an empty call."""
    calls = []
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping):
            function = {}
        arguments = function.get("arguments")
        if arguments is None:
            arguments = ""
        elif not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        name = function.get("name")
        calls.append(("" if name is None else str(name), arguments))
    return calls


def message_cost(message: Message, tok: Tokenizer) -> int:
    """Tokens of one checked message with an already resolved tokenizer (the hot path)."""
    content = message.get("content")
    total = TOKENS_PER_MESSAGE + tok.count(message["role"])
    total += tok.count(message_text(content))
    total += sum(image_tokens(part) for part in image_parts(content))
    name = message.get("name")
    if isinstance(name, str):
        total += TOKENS_PER_NAME + tok.count(name)
    for function, arguments in tool_calls(message):
        total += TOKENS_PER_TOOL_CALL + tok.count(function) + tok.count(arguments)
    return total
