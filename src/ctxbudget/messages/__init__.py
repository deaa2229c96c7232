"""Chat messages: the one token rule for messages and prompts, and fitting a history into a
budget (kept whole by turns and tool exchanges). Used by the context builder's history
sections, the session budget's ``guard`` and the agent-loop Compactor.
"""

from ._counting import (
    REPLY_PRIMING,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    TOKENS_PER_TOOL_CALL,
    Message,
    Prompt,
    count_prompt,
    message_text,
    message_tokens,
)
from ._fitting import FittedMessages, fit_messages, group_turns, history_items

__all__ = [
    "REPLY_PRIMING",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "TOKENS_PER_TOOL_CALL",
    "FittedMessages",
    "Message",
    "Prompt",
    "count_prompt",
    "fit_messages",
    "group_turns",
    "history_items",
    "message_text",
    "message_tokens",
]
