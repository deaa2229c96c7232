"""The chat-message token rule: what one message, and a whole prompt, cost in tokens.

One rule, used by :func:`~ctxbudget.fit_messages`, :func:`~ctxbudget.count_prompt` (and so
``guard``'s reservations), the Compactor and :func:`~ctxbudget.history_items`.

Source: OpenAI's cookbook "How to count tokens with tiktoken" (``num_tokens_from_messages``, for
gpt-3.5-turbo-0613 and later, gpt-4, gpt-4o): each message costs 3 tokens plus the tokens of its
role and content, a ``name`` costs 1 more token plus its own, and every reply is primed with 3
tokens. Tool calls are not covered by that rule; each call is counted as the tokens of its
function name and arguments plus 3 (an estimate, flagged ``estimated`` where reported).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import ConfigurationError
from ..tokenizers import get_tokenizer
from ..typing import Tokenizer

__all__ = [
    "REPLY_PRIMING",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "TOKENS_PER_TOOL_CALL",
    "Message",
    "Prompt",
    "check_message",
    "count_prompt",
    "message_cost",
    "message_text",
    "message_tokens",
    "tool_calls",
]

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
TOKENS_PER_TOOL_CALL = 3  # estimate: not in OpenAI's published rule

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
    total = TOKENS_PER_MESSAGE + tok.count(message["role"])
    total += tok.count(message_text(message.get("content")))
    name = message.get("name")
    if isinstance(name, str):
        total += TOKENS_PER_NAME + tok.count(name)
    for function, arguments in tool_calls(message):
        total += TOKENS_PER_TOOL_CALL + tok.count(function) + tok.count(arguments)
    return total


def message_tokens(message: Message, tokenizer: Any = "o200k_base") -> int:
    """Tokens one chat message costs, overhead included (see the module's rule and source).

    Args:
        message: a mapping with ``role``, ``content`` (text or parts), optionally ``name`` and
            ``tool_calls``.
        tokenizer: a tokenizer spec or object.

    Returns:
        The message's cost in tokens.

    Raises:
        ConfigurationError: the message is not a mapping with a string ``role``, or its content is
            neither text nor parts.
    """
    check_message(message)
    return message_cost(message, get_tokenizer(tokenizer))


def count_prompt(prompt: Prompt, tokenizer: Any = "o200k_base") -> int:
    """Tokens of a prompt: a string, or chat messages with the chat format's overhead and the
    reply priming (the same rule and total as :func:`~ctxbudget.fit_messages`).

    Raises:
        ConfigurationError: a message is malformed.
    """
    tok = get_tokenizer(tokenizer)
    if isinstance(prompt, str):
        return tok.count(prompt)
    total = REPLY_PRIMING
    for message in prompt:
        check_message(message)
        total += message_cost(message, tok)
    return total
