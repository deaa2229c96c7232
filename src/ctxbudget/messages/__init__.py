"""Chat messages of every provider's format: the token rule for messages and prompts, fitting
a history into a budget (kept whole by turns and tool exchanges, pins honoured), and repairing
broken histories. Used by the context builder's history sections, the session budget's
``guard`` and the agent-loop Compactor.

Formats: ``openai`` (Chat Completions), ``responses`` (OpenAI Responses items), ``anthropic``
(Messages API), ``gemini`` (``contents``) and ``langchain`` (message objects); see
:mod:`ctxbudget.messages._formats`.
"""

from . import _anthropic, _gemini, _openai, _responses  # noqa: F401 - register the formats
from ._counting import (
    REPLY_PRIMING,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    TOKENS_PER_TOOL_CALL,
    Message,
    Prompt,
    message_text,
)
from ._fitting import FittedMessages, count_prompt, fit_messages, message_tokens
from ._formats import FORMATS, MessageFormat, detect_format, get_format
from ._history import HistoryItems, history_items
from ._repair import RepairedMessages, repair_messages
from ._units import group_turns

__all__ = [
    "FORMATS",
    "REPLY_PRIMING",
    "TOKENS_PER_MESSAGE",
    "TOKENS_PER_NAME",
    "TOKENS_PER_TOOL_CALL",
    "FittedMessages",
    "HistoryItems",
    "Message",
    "MessageFormat",
    "Prompt",
    "RepairedMessages",
    "count_prompt",
    "detect_format",
    "fit_messages",
    "get_format",
    "group_turns",
    "history_items",
    "message_text",
    "message_tokens",
    "repair_messages",
]
