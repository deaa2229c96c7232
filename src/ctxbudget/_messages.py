"""Chat messages within a token budget: keep the system messages and the newest turns.

Token rule (OpenAI's cookbook "How to count tokens with tiktoken", ``num_tokens_from_messages``,
for gpt-3.5-turbo-0613 and later, gpt-4, gpt-4o): each message costs 3 tokens plus the tokens of
its role and content, a ``name`` costs 1 more token plus its own, and every reply is primed with
3 tokens. Tool calls are not covered by that rule; they are counted as the tokens of each call's
function name and arguments plus 3 per call (an estimate, labelled as such in the report).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._errors import BudgetError
from ._tokenizers import get_tokenizer

__all__ = ["FittedMessages", "fit_messages", "history_items", "message_tokens"]

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
TOKENS_PER_TOOL_CALL = 3  # estimate: not in OpenAI's published rule

Message = Mapping[str, Any]


def _text(content: Any) -> str:
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
    raise BudgetError(f"message content must be text or a list of parts, got {content!r}")


def message_tokens(message: Message, tokenizer: Any = "o200k_base") -> int:
    """Tokens one chat message costs, overhead included (see the module's rule and source).

    Raises:
        BudgetError: the message is not a mapping with a string ``role``.
    """
    if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
        raise BudgetError(f"a message must be a mapping with a string 'role', got {message!r}")
    tok = get_tokenizer(tokenizer)
    total = (
        TOKENS_PER_MESSAGE + tok.count(message["role"]) + tok.count(_text(message.get("content")))
    )
    name = message.get("name")
    if isinstance(name, str):
        total += TOKENS_PER_NAME + tok.count(name)
    for call in message.get("tool_calls") or ():
        function = call.get("function", {}) if isinstance(call, Mapping) else {}
        arguments = function.get("arguments", "")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        total += (
            TOKENS_PER_TOOL_CALL + tok.count(str(function.get("name", ""))) + tok.count(arguments)
        )
    return total


@dataclass(frozen=True)
class FittedMessages:
    """The messages kept, in their original order, and what was dropped.

    Attributes:
        messages: the kept messages (the same objects as given).
        tokens: their cost under the module's rule, reply priming included; <= ``max_tokens``.
        max_tokens: the budget.
        dropped: the dropped messages, in their original order.
        estimated: whether tool calls were estimated (not covered by the published rule).
    """

    messages: list[Message]
    tokens: int
    max_tokens: int
    dropped: list[Message] = field(default_factory=list)
    estimated: bool = False


def _groups(messages: Sequence[Message]) -> list[list[int]]:
    """Indices of the non-system messages in units that are kept or dropped together: an
    assistant message with ``tool_calls`` and the ``tool`` results answering it form one unit."""
    groups: list[list[int]] = []
    open_calls: dict[str, list[int]] = {}
    for i, message in enumerate(messages):
        role = message["role"]
        if role == "system":
            continue
        if role == "tool":
            owner = open_calls.get(str(message.get("tool_call_id")))
            if owner is not None:
                owner.append(i)
                continue
            groups.append([i])  # an orphan result: a unit of its own, never a kept start
            continue
        group = [i]
        groups.append(group)
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping) and "id" in call:
                open_calls[str(call["id"])] = group
    return groups


def history_items(messages: Sequence[Message]) -> list[str]:
    """Chat history as section items for :func:`~ctxbudget.build_context`, oldest first.

    Each message becomes one ``"role: content"`` item (its tool calls shown as
    ``"[tool call name(arguments)]"``); an assistant message with tool calls and the tool
    results answering it form one item, so trimming never separates them. System messages are
    left out: give them their own (required) section.

    Raises:
        BudgetError: a message is malformed.
    """
    for message in messages:
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise BudgetError(f"a message must be a mapping with a string 'role', got {message!r}")

    def line(message: Message) -> str:
        text = _text(message.get("content"))
        calls = [
            f"[tool call {c['function'].get('name', '')}({c['function'].get('arguments', '')})]"
            for c in message.get("tool_calls") or ()
            if isinstance(c, Mapping) and isinstance(c.get("function"), Mapping)
        ]
        return f"{message['role']}: " + " ".join(part for part in [text, *calls] if part)

    return ["\n".join(line(messages[i]) for i in group) for group in _groups(messages)]


def fit_messages(
    messages: Sequence[Message],
    max_tokens: int,
    *,
    tokenizer: Any = "o200k_base",
    keep: Literal["last"] = "last",
    start_on: Literal["user", "any"] = "user",
) -> FittedMessages:
    """Keep the system messages and the newest turns of a chat within ``max_tokens``.

    An assistant message with ``tool_calls`` is never separated from its ``tool`` results, the
    kept history never starts with a tool result (nor, with ``start_on="user"``, with anything
    but a user message), and the newest turn is always kept.

    Args:
        messages: OpenAI-style message dicts (``role``, ``content`` as text or parts,
            ``tool_calls``, ``tool_call_id``, ``name``), oldest first.
        max_tokens: the budget in tokens, chat overhead and reply priming included.
        tokenizer: the tokenizer spec or object.
        keep: ``"last"``: keep the newest turns (the only strategy).
        start_on: ``"user"`` (default) makes the kept history start at a user message.

    Returns:
        A :class:`FittedMessages` whose ``tokens`` never exceed ``max_tokens``.

    Raises:
        BudgetError: a message is malformed, ``max_tokens`` is invalid, or the system messages
            plus the newest turn alone exceed ``max_tokens`` (the message gives both numbers).
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
        raise BudgetError(f"max_tokens must be a whole number of tokens >= 0, got {max_tokens!r}")
    if keep != "last":
        raise BudgetError(f"keep must be 'last', got {keep!r}")
    cost = [message_tokens(m, tokenizer) for m in messages]
    estimated = any(m.get("tool_calls") for m in messages)
    system = [i for i, m in enumerate(messages) if m["role"] == "system"]
    groups = _groups(messages)
    used = REPLY_PRIMING + sum(cost[i] for i in system)
    kept: list[list[int]] = []
    for group in reversed(groups):
        group_cost = sum(cost[i] for i in group)
        if kept and used + group_cost > max_tokens:
            break
        kept.append(group)
        used += group_cost
    kept.reverse()
    # never start with an orphan tool result, nor (start_on="user") with a non-user message
    while len(kept) > 1 and (
        messages[kept[0][0]]["role"] == "tool"
        or (start_on == "user" and messages[kept[0][0]]["role"] != "user")
    ):
        used -= sum(cost[i] for i in kept.pop(0))
    if used > max_tokens:
        raise BudgetError(
            f"the system messages and the newest turn alone cost {used} tokens, over the "
            f"budget of {max_tokens}: raise max_tokens or summarize the system prompt"
        )
    keep_set = set(system) | {i for group in kept for i in group}
    return FittedMessages(
        messages=[m for i, m in enumerate(messages) if i in keep_set],
        tokens=used,
        max_tokens=max_tokens,
        dropped=[m for i, m in enumerate(messages) if i not in keep_set],
        estimated=estimated,
    )
