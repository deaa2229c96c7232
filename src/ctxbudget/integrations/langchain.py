"""LangChain message objects within a token budget (``pip install 'ctxbudget[langchain]'``).

>>> from langchain_core.messages import HumanMessage, SystemMessage  # doctest: +SKIP
>>> kept, report = fit_langchain_messages([SystemMessage("be brief"), HumanMessage("hi")], 100)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from .._errors import CtxBudgetError
from ..messages._fitting import FittedMessages, fit_messages

try:
    from langchain_core.messages import BaseMessage, convert_to_openai_messages
except ImportError as exc:  # pragma: no cover - exercised where langchain-core is absent
    raise CtxBudgetError(
        "the LangChain adapter needs langchain-core: pip install 'ctxbudget[langchain]'"
    ) from exc

__all__ = ["fit_langchain_messages"]


def fit_langchain_messages(
    messages: Sequence[BaseMessage],
    max_tokens: int,
    *,
    tokenizer: Any = "o200k_base",
    start_on: Literal["user", "any"] = "user",
) -> tuple[list[BaseMessage], FittedMessages]:
    """:func:`~ctxbudget.fit_messages` for LangChain messages.

    Each message is converted with ``langchain_core.messages.convert_to_openai_messages``,
    fitted by the same rules (system messages kept, newest turns kept, tool calls never
    separated from their ``ToolMessage`` results), and the kept *original* objects are
    returned in order.

    Returns:
        ``(kept messages, report)``: the report's ``messages`` and ``dropped`` are the OpenAI
        dicts, its ``tokens`` the cost of what was kept.

    Raises:
        BudgetError: as :func:`~ctxbudget.fit_messages`.
    """
    converted = [convert_to_openai_messages(m) for m in messages]
    fitted = fit_messages(converted, max_tokens, tokenizer=tokenizer, start_on=start_on)
    kept = {id(d) for d in fitted.messages}
    return [m for m, d in zip(messages, converted, strict=True) if id(d) in kept], fitted
