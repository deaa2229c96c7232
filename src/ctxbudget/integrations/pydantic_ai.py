"""A Pydantic AI history processor that keeps each model request within a token budget
(``pip install 'ctxbudget[pydantic-ai]'``).

``Agent(model, capabilities=[ProcessHistory(fit_history(8_000))])`` (``history_processors=
[fit_history(8_000)]`` on Pydantic AI releases that take that argument): before every model
request the history (``ModelRequest`` / ``ModelResponse`` objects) is fitted by
:func:`~ctxbudget.fit_messages` through :class:`PydanticAIFormat`: the system prompt is kept
(a request that mixes it with a user prompt is fitted as two), the newest turns are kept, a
``ToolCallPart`` is never separated from the ``ToolReturnPart`` (or retry) that answers it,
and a dangling call or an orphan return left in the kept history is removed from a copy of
its message (``FittedMessages.repairs``).

The cost rule is an estimate (Pydantic AI sends each provider its own shape; no rule is
published): each request part and each response costs :data:`~ctxbudget.TOKENS_PER_MESSAGE`
(3) plus the tokens of its role word and text, each tool call
:data:`~ctxbudget.TOKENS_PER_TOOL_CALL` (3) plus its name and JSON arguments, a request's
``instructions`` their text, a non-text user content item (image, audio, document) the
largest image cost of OpenAI's rule, 1,445 tokens; plus the reply priming, 3.

>>> agent = Agent(model, capabilities=[ProcessHistory(fit_history(8_000))])  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

from .._errors import ConfigurationError, CtxBudgetError
from .._validate import whole_number
from ..messages import TOKENS_PER_MESSAGE, TOKENS_PER_TOOL_CALL, FittedMessages, fit_messages
from ..messages._counting import IMAGE_MAX_TOKENS, REPLY_PRIMING
from ..messages._fitting import counting
from ..messages._formats import MessageFormat, json_text
from ..typing import Tokenizer

try:
    from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse
except ImportError as exc:  # pragma: no cover - exercised where pydantic-ai is absent
    raise CtxBudgetError(
        "the Pydantic AI adapter needs pydantic-ai-slim: pip install 'ctxbudget[pydantic-ai]'"
    ) from exc

__all__ = ["FORMAT", "PydanticAIFormat", "fit_history", "fit_pydantic_ai_messages"]

_ROLE_WORDS = {"system-prompt": "system", "user-prompt": "user"}


def _is_call(part: Any) -> bool:
    kind = str(getattr(part, "part_kind", ""))
    return kind.endswith("-call") and not kind.startswith("builtin-")


def _is_answer(part: Any) -> bool:
    kind = str(getattr(part, "part_kind", ""))
    if kind.startswith("builtin-") or not isinstance(getattr(part, "tool_call_id", None), str):
        return False
    return kind != "retry-prompt" or getattr(part, "tool_name", None) is not None


def _call_id(part: Any) -> str:
    return str(part.tool_call_id)


def _call(part: Any) -> tuple[str, str]:
    """A call part's tool name and JSON arguments."""
    render = getattr(part, "args_as_json_str", None)
    return str(getattr(part, "tool_name", "")), str(render()) if callable(render) else ""


def _content_cost(content: Any, tok: Tokenizer) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return tok.count(content)
    if isinstance(content, Sequence):
        return sum(
            tok.count(item) if isinstance(item, str) else IMAGE_MAX_TOKENS for item in content
        )
    return tok.count(json_text(content))


def _part_text(part: Any) -> str:
    for method in ("model_response_str", "model_response"):
        render = getattr(part, method, None)
        if callable(render):
            return str(render())
    content = getattr(part, "content", None)
    if isinstance(content, str) or content is None:
        return content or ""
    if isinstance(content, Sequence):
        return " ".join(item for item in content if isinstance(item, str))
    return json_text(content)


class PydanticAIFormat(MessageFormat):
    """``pydantic_ai.messages`` objects as a :class:`~ctxbudget.messages.MessageFormat`
    (roles, the estimated cost rule of this module, tool-call ids and repairs by copy)."""

    name = "pydantic-ai"
    priming: ClassVar[int] = REPLY_PRIMING
    exact: ClassVar[bool] = False

    def check(self, message: Any, index: int) -> None:
        if not isinstance(message, (ModelRequest, ModelResponse)):
            raise ConfigurationError(
                f"message {index}: a Pydantic AI message must be a ModelRequest or a "
                f"ModelResponse, got {message!r:.200}"
            )

    def role(self, message: Any) -> str:
        if isinstance(message, ModelResponse):
            return "assistant"
        kinds = {getattr(p, "part_kind", "") for p in message.parts}
        if kinds and kinds <= {"system-prompt"}:
            return "system"
        if any(_is_answer(p) for p in message.parts):
            return "tool"
        return "user"

    def cost(self, message: Any, tok: Tokenizer) -> int:
        if isinstance(message, ModelResponse):
            total = TOKENS_PER_MESSAGE + tok.count("assistant")
            for part in message.parts:
                if _is_call(part):
                    name, args = _call(part)
                    total += TOKENS_PER_TOOL_CALL + tok.count(name) + tok.count(args)
                else:
                    total += _content_cost(getattr(part, "content", None), tok)
            return total
        total = tok.count(message.instructions or "")
        for part in message.parts:
            kind = str(getattr(part, "part_kind", ""))
            total += TOKENS_PER_MESSAGE + tok.count(_ROLE_WORDS.get(kind, "tool"))
            if kind == "user-prompt":
                total += _content_cost(getattr(part, "content", None), tok)
            else:
                total += tok.count(_part_text(part))
        return total

    def calls(self, message: Any) -> tuple[str, ...]:
        if not isinstance(message, ModelResponse):
            return ()
        return tuple(_call_id(p) for p in message.parts if _is_call(p))

    def answers(self, message: Any) -> tuple[str, ...]:
        if not isinstance(message, ModelRequest):
            return ()
        return tuple(_call_id(p) for p in message.parts if _is_answer(p))

    def text(self, message: Any) -> str:
        pieces = []
        for part in message.parts:
            if _is_call(part):
                pieces.append("[tool call {}({})]".format(*_call(part)))
            else:
                pieces.append(_part_text(part))
        return " ".join(p for p in pieces if p)

    def looks_like(self, message: Any) -> bool | None:
        return isinstance(message, (ModelRequest, ModelResponse))

    def without_answers(self, message: Any, ids: set[str]) -> Any | None:
        parts = [p for p in message.parts if not (_is_answer(p) and _call_id(p) in ids)]
        return dataclasses.replace(message, parts=parts) if parts else None

    def without_calls(self, message: Any, ids: set[str]) -> Any | None:
        parts = [p for p in message.parts if not (_is_call(p) and _call_id(p) in ids)]
        return dataclasses.replace(message, parts=parts) if parts else None


#: The format instance, for ``fit_messages(..., format=FORMAT)`` and ``count_prompt``.
FORMAT = PydanticAIFormat()


def _split_system(messages: Sequence[ModelMessage]) -> tuple[list[ModelMessage], dict[int, Any]]:
    """Each request that mixes ``SystemPromptPart`` with other parts as two requests (system
    parts, the rest), so the system prompt is kept and the rest can go; and, by the id of each
    piece, the original request."""
    out: list[ModelMessage] = []
    pieces: dict[int, Any] = {}
    for m in messages:
        system: list[Any] = [p for p in m.parts if getattr(p, "part_kind", "") == "system-prompt"]
        if isinstance(m, ModelRequest) and system and len(system) < len(m.parts):
            rest: list[Any] = [p for p in m.parts if getattr(p, "part_kind", "") != "system-prompt"]
            head = dataclasses.replace(m, parts=system, instructions=None)
            tail = dataclasses.replace(m, parts=rest)
            out += [head, tail]
            pieces[id(head)] = pieces[id(tail)] = m
        else:
            out.append(m)
    return out, pieces


def fit_pydantic_ai_messages(
    messages: Sequence[ModelMessage],
    max_tokens: int,
    *,
    tokenizer: Any = "o200k_base",
    start_on: Literal["user", "any"] = "user",
) -> FittedMessages:
    """:func:`~ctxbudget.fit_messages` of a Pydantic AI history (:data:`FORMAT`).

    The system prompt is always kept: a request that holds ``SystemPromptPart`` and other
    parts is fitted as two (its system parts, kept; the rest, which may be dropped), and comes
    back as the original object when both are kept.

    Returns:
        The :class:`~ctxbudget.FittedMessages` report; ``messages`` are the kept objects (a
        split or repaired one is a copy), ``tokens <= max_tokens``; ``dropped`` holds the
        dropped messages (the non-system half of a split request, as a copy).

    Raises:
        ConfigurationError: a message is not a ``ModelRequest`` / ``ModelResponse``, or
            ``max_tokens`` is invalid.
        BudgetError: the system prompt and the newest turn alone exceed ``max_tokens``.
    """
    for i, m in enumerate(messages):
        FORMAT.check(m, i)
    expanded, pieces = _split_system(messages)
    fitted = fit_messages(
        expanded, max_tokens, format=FORMAT, tokenizer=tokenizer, start_on=start_on
    )
    kept: list[Any] = []
    for m in fitted.messages:
        original: Any = pieces.get(id(m))
        if original is not None and kept and pieces.get(id(kept[-1])) is original:
            kept[-1] = original  # both halves kept: the request as it was
        else:
            kept.append(m)
    return dataclasses.replace(fitted, messages=kept)


def fit_history(
    max_tokens: int,
    *,
    tokenizer: Any = "o200k_base",
    start_on: Literal["user", "any"] = "user",
) -> Callable[[list[ModelMessage]], list[ModelMessage]]:
    """A history processor for ``pydantic_ai.Agent``
    (``capabilities=[ProcessHistory(processor)]``, or ``history_processors=[processor]`` where
    the release takes it): the history
    fitted within ``max_tokens`` by :func:`fit_pydantic_ai_messages`.

    Pydantic AI runs it before every model request and keeps its result as the run's history,
    so what was dropped is gone from ``result.all_messages()`` too (keep your own copy of the
    history if you need it).

    Args:
        max_tokens: the request's budget, in tokens, by this module's rule.
        tokenizer: the tokenizer spec or object.
        start_on: ``"user"`` (default) makes a trimmed history start at a user request.

    Returns:
        ``processor(messages) -> messages``.

    Raises:
        ConfigurationError: ``max_tokens`` is not a whole number >= 1 (here).
        BudgetError: at run time, as :func:`fit_pydantic_ai_messages`.
    """
    whole_number(max_tokens, "max_tokens", minimum=1, unit="tokens")
    tok = counting(tokenizer)

    def fit_history(messages: list[ModelMessage]) -> list[ModelMessage]:
        fitted = fit_pydantic_ai_messages(messages, max_tokens, tokenizer=tok, start_on=start_on)
        return list(fitted.messages)

    return fit_history
