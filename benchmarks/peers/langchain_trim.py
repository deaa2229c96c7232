"""LangChain ``trim_messages`` on the "history" workload.

Timed call: ``trim_messages(messages, max_tokens=cap, strategy="last", token_counter=...,
include_system=True, start_on="human", allow_partial=False)`` on prebuilt message objects.

Token counter: the tiktoken counter from LangChain's "How to trim messages" guide (an
approximation of OpenAI's chat-format count), with o200k_base and ``encode_ordinary``:
3 tokens priming the reply, then per message 3 + tokens(role) + tokens(content) (+ 1 +
tokens(name) when named). It re-encodes every message of each candidate list, which is how the
guide writes it (no count cache).
"""

from __future__ import annotations

from typing import Any

from _peer_common import chat_text, package_version

WORKLOAD = "history"
NOTES = (
    "langchain_core.messages.trim_messages(strategy='last', include_system=True, "
    "start_on='human', allow_partial=False, max_tokens=cap); token_counter = the tiktoken "
    "counter from LangChain's trim_messages guide (3 reply-priming tokens + per message 3 + "
    "role + content tokens, o200k encode_ordinary, no caching); cap is enforced on that "
    "chat-format count, text is the kept messages as 'role: content' lines; whole messages only; "
    "a leading system message is always kept even if it alone exceeds the cap (LangChain then "
    "gives the rest max(0, cap - system) tokens)"
)

_ROLE_NAMES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def version() -> str:
    return package_version("langchain-core")


def _counter(enc: Any) -> Any:
    from langchain_core.messages import BaseMessage

    def str_token_counter(text: str) -> int:
        return len(enc.encode_ordinary(text))

    def tiktoken_counter(messages: list[BaseMessage]) -> int:
        num_tokens = 3  # every reply is primed with <|start|>assistant<|message|>
        tokens_per_message = 3
        tokens_per_name = 1
        for msg in messages:
            role = _ROLE_NAMES.get(msg.type)
            if role is None:
                raise ValueError(f"unsupported message type {msg.type}")
            num_tokens += (
                tokens_per_message + str_token_counter(role) + str_token_counter(msg.content)
            )
            if msg.name:
                num_tokens += tokens_per_name + str_token_counter(msg.name)
        return num_tokens

    return tiktoken_counter


def prepare(data: dict[str, Any], enc: Any) -> dict[str, Any]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"user": HumanMessage, "assistant": AIMessage, "system": SystemMessage}
    messages = [kinds[m["role"]](content=m["content"]) for m in data["history"]]
    return {"messages": messages, "cap": int(data["cap"]), "counter": _counter(enc)}


def call(prepared: dict[str, Any]) -> list[Any]:
    from langchain_core.messages import trim_messages

    return trim_messages(
        prepared["messages"],
        max_tokens=prepared["cap"],
        strategy="last",
        token_counter=prepared["counter"],
        include_system=True,
        start_on="human",
        allow_partial=False,
    )


def render(result: list[Any]) -> str:
    return chat_text([(_ROLE_NAMES.get(m.type, m.type), str(m.content)) for m in result])
