"""A LangChain v1 agent middleware that fits every model request within a token budget
(``pip install 'ctxbudget[langchain]'``, which brings ``langchain>=1.0``).

``create_agent(model, tools, middleware=[ContextBudgetMiddleware(8_000)])``: around every
model call the request's messages, its system message included, are fitted by
:func:`~ctxbudget.fit_messages` (``format="langchain"``): the system message kept, the newest
turns kept, an ``AIMessage``'s tool calls never separated from their ``ToolMessage`` results, a
dangling call or orphan result repaired on a copy. Like ``SummarizationMiddleware`` it can put
a summary of what was left out first (``summarize=True``: the offline extractive summarizer,
or any :class:`~ctxbudget.Summarizer`), but with an exact cap: the summary's room is set aside
before fitting, so the request the model receives never exceeds ``max_tokens`` by the
tokenizer's count. Every message left out can be archived whole (``archive=``), content
addressed, so nothing is lost; the agent's state keeps the full history either way.

>>> middleware = [ContextBudgetMiddleware(8_000, summarize=True)]  # doctest: +SKIP
>>> agent = create_agent(model, tools, middleware=middleware)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from .._errors import BudgetError, ConfigurationError, CtxBudgetError
from .._validate import whole_number
from ..memory import Archive, ExtractiveSummarizer, archive_from_url
from ..messages import fit_messages, message_tokens
from ..messages._fitting import counting
from ..messages._formats import get_format
from ..typing import Summarizer

try:
    from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
    from langchain_core.messages import (
        AnyMessage,
        BaseMessage,
        HumanMessage,
        message_to_dict,
        messages_from_dict,
    )
except ImportError as exc:  # pragma: no cover - exercised where langchain is absent
    raise CtxBudgetError(
        "the LangChain agent middleware needs langchain>=1.0: pip install 'ctxbudget[langchain]'"
    ) from exc

__all__ = ["SUMMARY_PREFIX", "ContextBudgetMiddleware"]

#: The text before the summary in the message that carries it (a ``HumanMessage``, as
#: LangChain's ``SummarizationMiddleware`` writes it).
SUMMARY_PREFIX = "Here is a summary of the conversation to date:\n\n"
_FORMAT = get_format("langchain")


class ContextBudgetMiddleware(AgentMiddleware):
    """Fits each model request of a ``create_agent`` agent within ``max_tokens``.

    Args:
        max_tokens: the request's budget in tokens (system message, messages, reply priming
            by OpenAI's chat rule, as :func:`~ctxbudget.count_prompt` counts).
        tokenizer: the tokenizer spec or object.
        summarize: ``False`` (default) only fits; ``True`` puts an extractive summary of the
            messages left out first; or a :class:`~ctxbudget.Summarizer` to write it.
        summary_tokens: the summary's limit, in tokens (default ``max_tokens // 5``), set
            aside from ``max_tokens`` when anything is left out.
        archive: an :class:`~ctxbudget.Archive` or archive URL (``"memory://"``,
            ``"sqlite:///archive.db"``) that receives every message left out, one block each
            (the ids in :attr:`archived`, read back with :meth:`expand`).
        start_on: ``"user"`` (default) makes a trimmed history start at a human message.

    Raises:
        ConfigurationError: ``max_tokens`` or ``summary_tokens`` is not a whole number >= 1,
            ``summary_tokens`` leaves no room below ``max_tokens``, or ``tokenizer`` or
            ``archive`` is invalid.
    """

    def __init__(
        self,
        max_tokens: int,
        *,
        tokenizer: Any = "o200k_base",
        summarize: bool | Summarizer = False,
        summary_tokens: int | None = None,
        archive: Archive | str | None = None,
        start_on: Literal["user", "any"] = "user",
    ) -> None:
        super().__init__()
        self.max_tokens = whole_number(max_tokens, "max_tokens", minimum=1, unit="tokens")
        self.tokenizer = counting(tokenizer)
        if summary_tokens is None:
            summary_tokens = max(1, self.max_tokens // 5)
        self.summary_tokens = whole_number(summary_tokens, "summary_tokens", minimum=1)
        if self.summary_tokens >= self.max_tokens:
            raise ConfigurationError(
                f"summary_tokens must be below max_tokens ({self.max_tokens}), "
                f"got {summary_tokens!r}"
            )
        self.summarizer: Summarizer | None = (
            ExtractiveSummarizer(self.tokenizer) if summarize is True else summarize or None
        )
        self.archive = archive_from_url(archive) if isinstance(archive, str) else archive
        self.start_on: Literal["user", "any"] = start_on
        self._archived: dict[str, None] = {}
        self._summary_memo: tuple[tuple[str, ...], str] | None = None
        self._lock = threading.Lock()

    @property
    def archived(self) -> list[str]:
        """Ids of the archived blocks, oldest first, each message once."""
        with self._lock:
            return list(self._archived)

    def expand(self, block_id: str) -> BaseMessage:
        """The archived message of ``block_id``, as it was.

        Raises:
            ConfigurationError: no archive was given.
            KeyError: no block of that id.
        """
        if self.archive is None:
            raise ConfigurationError("expand needs an archive: pass archive= to the middleware")
        (message,) = messages_from_dict([self.archive.get(block_id).content])
        return message

    # -- the fit --------------------------------------------------------------------------------

    def _fit(
        self, messages: Sequence[AnyMessage], head: list[BaseMessage], budget: int
    ) -> tuple[list[BaseMessage], list[BaseMessage]]:
        """``(kept, dropped)`` of ``head`` (system and summary, pinned) and ``messages``."""
        fitted = fit_messages(
            [*head, *messages],
            budget,
            format=_FORMAT,
            tokenizer=self.tokenizer,
            start_on=self.start_on,
            pinned=[i for i, m in enumerate(head) if m.type != "system"],
        )
        return list(fitted.messages), list(fitted.dropped)

    def fit_request(
        self, messages: Sequence[AnyMessage], system: BaseMessage | None = None
    ) -> list[AnyMessage]:
        """The messages to send (without ``system``), within ``max_tokens`` with ``system``.

        Raises:
            BudgetError: the system message and the newest turn alone exceed ``max_tokens``.
            ArchiveError: a message left out could not be archived.
        """
        head = [system] if system is not None else []
        kept, dropped = self._fit(messages, head, self.max_tokens)
        if dropped and self.summarizer is not None:
            kept, dropped = self._with_summary(messages, head, self.summarizer)
        self._archive(dropped)
        out: list[Any] = [m for m in kept if not any(m is h for h in head)]
        return out

    def _with_summary(
        self, messages: Sequence[AnyMessage], head: list[BaseMessage], summarizer: Summarizer
    ) -> tuple[list[BaseMessage], list[BaseMessage]]:
        """Refit with the summary's room set aside, then summarize what was left out; without
        the summary when the summarizer wrote nothing or more than its room."""
        room = (
            self.max_tokens
            - self.summary_tokens
            - message_tokens(HumanMessage(SUMMARY_PREFIX), self.tokenizer, format=_FORMAT)
        )
        if room < 1:
            return self._fit(messages, head, self.max_tokens)
        try:
            kept, left_out = self._fit(messages, head, room)
        except BudgetError:  # the newest turn needs the summary's room: no summary
            return self._fit(messages, head, self.max_tokens)
        items = tuple(_FORMAT.text(m) for m in left_out if m.type != "system")
        with self._lock:
            memo = self._summary_memo
        if memo is not None and memo[0] == items:
            text = memo[1]  # the same messages left out as at the last call
        else:
            text = summarizer.summarize(list(items), self.summary_tokens)
            with self._lock:
                self._summary_memo = (items, text)
        if not text or self.tokenizer.count(text) > self.summary_tokens:
            return self._fit(messages, head, self.max_tokens)
        summary = HumanMessage(SUMMARY_PREFIX + text)
        n = len(head)
        return [*kept[:n], summary, *kept[n:]], left_out

    def _archive(self, dropped: list[BaseMessage]) -> None:
        if self.archive is None:
            return
        for m in dropped:
            block = self.archive.put(
                message_to_dict(m),
                tokens=message_tokens(m, self.tokenizer, format=_FORMAT),
                summary=_FORMAT.text(m)[:200],
                source="langchain-agent",
            )
            with self._lock:
                self._archived.setdefault(block, None)

    # -- the hooks ------------------------------------------------------------------------------

    def _request(self, request: ModelRequest) -> ModelRequest:
        return request.override(messages=self.fit_request(request.messages, request.system_message))

    def wrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], ModelResponse],
    ) -> ModelResponse:
        """Send ``handler`` the request with its messages fitted (see the class)."""
        return handler(self._request(request))

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse:
        """:meth:`wrap_model_call` for async agents."""
        return await handler(self._request(request))
