"""LangChain message objects within a token budget (``pip install 'ctxbudget[langchain]'``).

>>> from langchain_core.messages import HumanMessage, SystemMessage  # doctest: +SKIP
>>> kept, report = fit_langchain_messages([SystemMessage("be brief"), HumanMessage("hi")], 100)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal

from .._errors import CtxBudgetError
from ..messages import FittedMessages, fit_messages

try:
    from langchain_core.messages import BaseMessage
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
    pinned: Collection[Any] = (),
) -> tuple[list[BaseMessage], FittedMessages]:
    """:func:`~ctxbudget.fit_messages` for LangChain messages (``format="langchain"``).

    The same core as every other format: system messages kept, newest turns kept, an
    ``AIMessage``'s tool calls never separated from their ``ToolMessage`` results, costs by
    OpenAI's chat rule; the kept *original* objects are returned, in order.

    Returns:
        ``(kept messages, report)``; the report's ``messages`` and ``dropped`` are LangChain
        objects too.

    Raises:
        BudgetError, ConfigurationError: as :func:`~ctxbudget.fit_messages`.
    """
    fitted = fit_messages(
        messages,
        max_tokens,
        format="langchain",
        tokenizer=tokenizer,
        start_on=start_on,
        pinned=pinned,
    )
    return list(fitted.messages), fitted
