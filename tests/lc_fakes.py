"""A fake LangChain chat model for the agent adapters' tests: it answers from a list (as
langchain_core's FakeMessagesListChatModel), accepts tools, and records what it received."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from pydantic import Field


class RecordingChatModel(FakeMessagesListChatModel):
    """Answers ``responses`` in turn; ``seen`` holds each call's messages."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> RecordingChatModel:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.seen.append(list(messages))
        return super()._generate(messages, stop, run_manager, **kwargs)


def tool_turn(call_id: str, query: str) -> AIMessage:
    """An assistant message that calls the ``lookup`` tool once."""
    return AIMessage("", tool_calls=[{"name": "lookup", "args": {"q": query}, "id": call_id}])
