"""Chat messages within a token budget: keep the system messages and the newest turns.

Costs follow the one chat-message rule of :mod:`ctxbudget.messages._counting`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import BudgetError, ConfigurationError
from .._validate import whole_number
from ..tokenizers import get_tokenizer
from ._counting import (
    REPLY_PRIMING,
    Message,
    check_message,
    is_estimated,
    message_cost,
    message_text,
    tool_calls,
)

__all__ = ["FittedMessages", "fit_messages", "group_turns", "history_items"]


@dataclass(frozen=True)
class FittedMessages:
    """The messages kept, in their original order, and what was dropped.

    Attributes:
        messages: the kept messages (the same objects as given).
        tokens: their cost under the module's rule, reply priming included; <= ``max_tokens``.
        max_tokens: the budget.
        dropped: the dropped messages, in their original order.
        estimated: whether the count holds estimates (tool calls, images of unknown size:
            see :mod:`ctxbudget.messages._counting`); estimates are upper bounds.
    """

    messages: list[Message]
    tokens: int
    max_tokens: int
    dropped: list[Message] = field(default_factory=list)
    estimated: bool = False


def group_turns(messages: Sequence[Message]) -> list[list[int]]:
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
        ConfigurationError: a message is malformed.
    """
    for message in messages:
        check_message(message)

    def line(message: Message) -> str:
        text = message_text(message.get("content"))
        calls = [f"[tool call {name}({arguments})]" for name, arguments in tool_calls(message)]
        return f"{message['role']}: " + " ".join(part for part in [text, *calls] if part)

    return ["\n".join(line(messages[i]) for i in group) for group in group_turns(messages)]


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
    kept history never starts with a tool result (nor, with ``start_on="user"``, a history
    that had to be trimmed with anything but a user message), and the newest turn is always
    kept. When everything fits, ``tokens`` equals :func:`~ctxbudget.count_prompt` of the
    messages: both use the one rule of :mod:`ctxbudget.messages._counting`.

    Args:
        messages: OpenAI-style message dicts (``role``, ``content`` as text or parts,
            ``tool_calls``, ``tool_call_id``, ``name``), oldest first.
        max_tokens: the budget in tokens, chat overhead and reply priming included.
        tokenizer: the tokenizer spec or object.
        keep: ``"last"``: keep the newest turns (the only strategy).
        start_on: ``"user"`` (default) makes a trimmed history start at a user message.

    Returns:
        A :class:`FittedMessages` whose ``tokens`` never exceed ``max_tokens``.

    Raises:
        ConfigurationError: a message is malformed, or ``max_tokens`` or ``keep`` is invalid.
        BudgetError: the system messages plus the newest turn alone exceed ``max_tokens`` (the
            message gives both numbers).
    """
    whole_number(max_tokens, "max_tokens", unit="tokens")
    if keep != "last":
        raise ConfigurationError(f"keep must be 'last', got {keep!r}")
    tok = get_tokenizer(tokenizer)
    for m in messages:
        check_message(m)
    cost = [message_cost(m, tok) for m in messages]
    estimated = any(is_estimated(m) for m in messages)
    system = [i for i, m in enumerate(messages) if m["role"] == "system"]
    groups = group_turns(messages)
    used = REPLY_PRIMING + sum(cost[i] for i in system)
    kept: list[list[int]] = []
    for group in reversed(groups):
        group_cost = sum(cost[i] for i in group)
        if kept and used + group_cost > max_tokens:
            break
        kept.append(group)
        used += group_cost
    trimmed = len(kept) < len(groups)
    kept.reverse()
    # never start with an orphan tool result, nor (start_on="user") a trimmed history with a
    # non-user message
    while len(kept) > 1 and (
        messages[kept[0][0]]["role"] == "tool"
        or (trimmed and start_on == "user" and messages[kept[0][0]]["role"] != "user")
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
