"""LangChain message objects within a token budget (``pip install 'ctxbudget[langchain]'``).

Three pieces over one rule (:func:`~ctxbudget.fit_messages` with ``format="langchain"``: the
system message kept, the newest turns kept, an ``AIMessage``'s tool calls never separated from
their ``ToolMessage`` results, costs by OpenAI's chat rule):

- :func:`fit_langchain_messages`: the function, returning the kept messages and the report;
- :func:`fit_messages_runnable`: the same as a ``Runnable``, a drop-in where
  ``trim_messages(...)`` is used as one (``prompt | fitter | model``);
- :func:`token_counter`: a ``token_counter`` for ``langchain_core.messages.trim_messages``
  that counts by the same rule.

The LangChain v1 agent middleware lives in :mod:`ctxbudget.integrations.langchain_agents`
(it needs ``langchain``, not only ``langchain-core``).

>>> from langchain_core.messages import HumanMessage, SystemMessage  # doctest: +SKIP
>>> kept, report = fit_langchain_messages([SystemMessage("be brief"), HumanMessage("hi")], 100)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Literal

from .._errors import ConfigurationError, CtxBudgetError
from .._validate import whole_number
from ..messages import FittedMessages, count_prompt, fit_messages
from ..messages._fitting import counting

try:
    from langchain_core.messages import BaseMessage, convert_to_messages
    from langchain_core.prompt_values import PromptValue
    from langchain_core.runnables import Runnable, RunnableLambda
except ImportError as exc:  # pragma: no cover - exercised where langchain-core is absent
    raise CtxBudgetError(
        "the LangChain adapter needs langchain-core: pip install 'ctxbudget[langchain]'"
    ) from exc

__all__ = ["fit_langchain_messages", "fit_messages_runnable", "token_counter"]


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


def _as_messages(value: Any) -> list[BaseMessage]:
    """A ``PromptValue``, a string or a sequence of message-likes (objects, ``(role, text)``
    pairs, dicts) as LangChain message objects, as ``trim_messages`` accepts them.

    Raises:
        ConfigurationError: ``convert_to_messages`` cannot read ``value`` (its message and
            the offending value's type are named).
    """
    if isinstance(value, PromptValue):
        return value.to_messages()
    try:
        return convert_to_messages([value] if isinstance(value, str) else value)
    # LangChain's own errors for input it cannot read: convert_to_messages raises
    # NotImplementedError for a message type it does not know (not a stub of ours)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise ConfigurationError(
            f"fit_messages cannot read its input ({type(value).__name__}) as LangChain "
            f"messages: {exc}"
        ) from exc


def fit_messages_runnable(
    max_tokens: int,
    *,
    tokenizer: Any = "o200k_base",
    start_on: Literal["user", "any"] = "user",
    pinned: Collection[Any] = (),
) -> Runnable[Any, list[BaseMessage]]:
    """A ``Runnable`` that fits its input messages within ``max_tokens`` tokens: a drop-in
    for ``trim_messages(max_tokens=..., ...)`` used as a runnable, with our rule instead of a
    binary search over a counter (tool pairs kept whole, the system message kept, the kept
    history starting at a user message).

    Args:
        max_tokens: the budget, in tokens, reply priming included (as :func:`count_prompt`).
        tokenizer: the tokenizer spec or object (``"o200k_base"``, ``"gpt-4o"``, ...).
        start_on: ``"user"`` (default) makes a trimmed history start at a human message.
        pinned: messages never dropped (indices, ids, or the message objects).

    Returns:
        A ``RunnableLambda`` named ``fit_messages``: input a ``PromptValue`` (what a
        ``ChatPromptTemplate`` gives), a string or a list of message-likes; output the kept
        message objects, in order. ``invoke``, ``batch``, ``ainvoke`` and ``stream`` work as
        for any runnable.

    Raises:
        ConfigurationError: ``max_tokens`` is not a whole number >= 1 or ``tokenizer`` is
            invalid (here, not at the first call).
        BudgetError: at call time, when the system messages and the newest turn alone exceed
            ``max_tokens``.
        ConfigurationError: at call time, an input that is not messages (a number, a dict
            with no role...).

    >>> chain = prompt | fit_messages_runnable(8_000) | model  # doctest: +SKIP
    """
    whole_number(max_tokens, "max_tokens", minimum=1, unit="tokens")  # fails here, not later
    tok = counting(tokenizer)

    def fit(value: Any) -> list[BaseMessage]:
        kept, _ = fit_langchain_messages(
            _as_messages(value), max_tokens, tokenizer=tok, start_on=start_on, pinned=pinned
        )
        return kept

    return RunnableLambda(fit, name="fit_messages")


def token_counter(tokenizer: Any = "o200k_base") -> Callable[[Sequence[BaseMessage]], int]:
    """A ``token_counter`` for ``langchain_core.messages.trim_messages``: the tokens of a list
    of messages by OpenAI's chat rule (3 per message, its role and content, tool calls
    estimated), plus the reply priming of 3, as :func:`~ctxbudget.count_prompt` counts them.

    Because each count includes the priming, ``trim_messages(include_system=True)``, which
    counts the system message apart from the rest, keeps at most ``max_tokens - 3`` by this
    rule: a conservative answer, never over.

    Args:
        tokenizer: the tokenizer spec or object.

    Returns:
        ``count(messages) -> int``, in tokens.

    Raises:
        ConfigurationError, TokenizerError: ``tokenizer`` is not a known spec (here); a
            message without ``type`` and ``content`` (when counted).

    >>> trim_messages(history, max_tokens=4_000, token_counter=token_counter("gpt-4o"),
    ...               strategy="last", include_system=True)  # doctest: +SKIP
    """
    tok = counting(tokenizer)

    def count(messages: Sequence[BaseMessage]) -> int:
        return count_prompt(list(messages), tok, format="langchain")

    return count
