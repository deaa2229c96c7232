"""A LangGraph ``pre_model_hook`` that keeps the model's input within a token budget
(``pip install 'ctxbudget[langgraph]'``).

``create_react_agent(model, tools, pre_model_hook=fit_hook(8_000))``: before every model call
the hook fits the graph's ``messages`` by :func:`~ctxbudget.fit_messages` (``format=
"langchain"``: system messages kept, the newest turns kept, tool calls never separated from
their results) and returns them as ``llm_input_messages``, which the agent sends to the model
instead of ``messages``. The graph state keeps the full history; nothing is removed from it.

>>> from langgraph.prebuilt import create_react_agent  # doctest: +SKIP
>>> agent = create_react_agent(model, tools, pre_model_hook=fit_hook(8_000))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal

from .._errors import ConfigurationError, CtxBudgetError
from .._validate import whole_number
from ..messages import fit_messages
from ..messages._fitting import counting

try:
    import langgraph.graph  # noqa: F401 - the hook is a node of a LangGraph graph
    from langchain_core.messages import BaseMessage, SystemMessage
except ImportError as exc:  # pragma: no cover - exercised where langgraph is absent
    raise CtxBudgetError(
        "the LangGraph adapter needs langgraph: pip install 'ctxbudget[langgraph]'"
    ) from exc

__all__ = ["fit_hook"]


def _messages_of(state: Any, key: str) -> list[BaseMessage]:
    value = state.get(key) if isinstance(state, Mapping) else getattr(state, key, None)
    if value is None:
        raise ConfigurationError(f"the graph state has no {key!r} key for the pre_model_hook")
    return list(value)


def fit_hook(
    max_tokens: int,
    *,
    tokenizer: Any = "o200k_base",
    system: str | None = None,
    start_on: Literal["user", "any"] = "user",
    pinned: Collection[Any] = (),
    messages_key: str = "messages",
) -> Callable[[Any], dict[str, list[BaseMessage]]]:
    """A ``pre_model_hook`` for ``langgraph.prebuilt.create_react_agent``: returns
    ``{"llm_input_messages": kept}``, the state's messages fitted within ``max_tokens``.

    Args:
        max_tokens: the model's input budget, in tokens, by OpenAI's chat rule with the reply
            priming (as :func:`~ctxbudget.count_prompt` counts), ``system`` included.
        tokenizer: the tokenizer spec or object.
        system: the text of a system prompt the agent adds *after* the hook
            (``create_react_agent(prompt="...")``), counted as fixed cost so the request the
            model receives is within ``max_tokens``.
        start_on: ``"user"`` (default) makes a trimmed history start at a human message.
        pinned: messages never dropped (indices, ids or the message objects).
        messages_key: the state key that holds the history.

    Returns:
        The hook: ``state`` (a mapping or an object with the key as attribute) -> the update.

    Raises:
        ConfigurationError: ``max_tokens`` is not a whole number >= 1 (here); at call time,
            the state has no ``messages_key``, or a message is malformed.
        BudgetError: at call time, the system messages, ``system`` and the newest turn alone
            exceed ``max_tokens`` (the message gives the numbers).
    """
    whole_number(max_tokens, "max_tokens", minimum=1, unit="tokens")
    tok = counting(tokenizer)

    # the agent's own system message, costed as it will be sent (system messages are kept)
    head = [SystemMessage(system)] if system is not None else []
    pins = [p + len(head) if isinstance(p, int) and not isinstance(p, bool) else p for p in pinned]

    def hook(state: Any) -> dict[str, list[BaseMessage]]:
        messages = _messages_of(state, messages_key)
        fitted = fit_messages(
            [*head, *messages],
            max_tokens,
            format="langchain",
            tokenizer=tok,
            start_on=start_on,
            pinned=pins,
        )
        return {"llm_input_messages": [m for m in fitted.messages if not any(m is h for h in head)]}

    return hook
