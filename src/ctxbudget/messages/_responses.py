"""OpenAI Responses API input items.

Items (OpenAI, "Responses" API reference, ``input``): messages (``{"role", "content"}``, with or
without ``"type": "message"``; content as text or ``input_text``/``output_text``/
``input_image``/``input_file`` parts), ``function_call`` (``call_id``, ``name``,
``arguments``), ``function_call_output`` (``call_id``, ``output``), ``reasoning`` (``summary``,
``encrypted_content``), and the built-in tools' calls and outputs (``*_call`` /
``*_call_output``, e.g. ``custom_tool_call``, ``computer_call``).

Pairing: every output stays with its call; parallel calls made in one turn, and the reasoning
item that led to them (OpenAI: "reasoning items must be passed back with the function calls
they produced"), form one unit with all their outputs.

Cost: OpenAI publishes no overhead rule for Responses items, so the chat rule is applied as an
estimate (``estimated=True`` for every item but plain text messages): 3 tokens per item plus
its role, text, a call's name and arguments, an output's text, a reasoning item's summary text
and encrypted content; images are charged the chat rule's bound (85 at low detail, else
1,445).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import ConfigurationError
from ..typing import Tokenizer
from ._counting import IMAGE_LOW_TOKENS, IMAGE_MAX_TOKENS, REPLY_PRIMING, TOKENS_PER_MESSAGE
from ._formats import MessageFormat, as_text, json_text, register

__all__ = ["ResponsesFormat"]

_MESSAGE_PARTS = {"input_text", "output_text", "text", "refusal", "summary_text"}
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def _kind(item: Mapping[str, Any]) -> str:
    kind = item.get("type")
    if kind is None and "role" in item:
        return "message"
    return str(kind)


def _is_call(kind: str) -> bool:
    return kind.endswith("_call") and kind != "function_call_output"


def _is_output(kind: str) -> bool:
    return kind.endswith("_call_output")


def _content_cost(content: Any, tok: Tokenizer) -> int:
    if isinstance(content, str) or not isinstance(content, Sequence):
        return tok.count(as_text(content))
    total = 0
    for part in content:
        if not isinstance(part, Mapping):
            total += tok.count(as_text(part))
        elif part.get("type") in _MESSAGE_PARTS or isinstance(part.get("text"), str):
            total += tok.count(as_text(part.get("text")))
        elif part.get("type") == "input_image":
            total += IMAGE_LOW_TOKENS if part.get("detail") == "low" else IMAGE_MAX_TOKENS
        else:
            total += tok.count(json_text({k: v for k, v in part.items() if k != "file_data"}))
    return total


class ResponsesFormat(MessageFormat):
    name = "responses"
    priming = REPLY_PRIMING

    def check(self, message: Any, index: int) -> None:
        if not isinstance(message, Mapping) or not (
            isinstance(message.get("type"), str) or isinstance(message.get("role"), str)
        ):
            raise ConfigurationError(
                f"item {index}: a Responses input item must be a mapping with a 'type' or a "
                f"'role', got {message!r:.200}"
            )

    def role(self, message: Any) -> str:
        kind = _kind(message)
        if kind == "message":
            return _ROLES.get(str(message.get("role")), "other")
        if _is_output(kind):
            return "tool"
        if _is_call(kind):
            return "assistant"
        return "other"

    def cost(self, message: Any, tok: Tokenizer) -> int:
        kind = _kind(message)
        total = TOKENS_PER_MESSAGE
        if kind == "message":
            return (
                total
                + tok.count(str(message.get("role")))
                + _content_cost(message.get("content"), tok)
            )
        if kind == "reasoning":
            summary = message.get("summary") or ()
            total += sum(_content_cost([s], tok) for s in summary if isinstance(s, Mapping))
            return total + tok.count(as_text(message.get("encrypted_content")))
        if _is_output(kind):
            return total + _content_cost(message.get("output"), tok)
        fields = ("name", "arguments", "input", "action", "code")
        for key in fields:
            if message.get(key) is not None:
                total += tok.count(json_text(message[key]))
        return total

    def estimated(self, message: Any) -> bool:
        return _kind(message) != "message" or not isinstance(message.get("content"), str)

    def calls(self, message: Any) -> tuple[str, ...]:
        kind = _kind(message)
        if _is_call(kind) and message.get("call_id") is not None:
            return (str(message["call_id"]),)
        return ()

    def answers(self, message: Any) -> tuple[str, ...]:
        if _is_output(_kind(message)) and message.get("call_id") is not None:
            return (str(message["call_id"]),)
        return ()

    def links_back(self, message: Any, previous: Any) -> bool:
        kind, before = _kind(message), _kind(previous)
        if _is_output(kind):
            return True  # outputs follow their calls (and the other outputs of the turn)
        if _is_call(kind):  # a parallel call, or the call a reasoning item led to
            return _is_call(before) or before == "reasoning"
        return False

    def text(self, message: Any) -> str:
        kind = _kind(message)
        if kind == "message":
            return as_text(message.get("content"))
        if _is_output(kind):
            return f"[tool result {as_text(message.get('output'))}]"
        if _is_call(kind):
            return f"[tool call {message.get('name')}({json_text(message.get('arguments'))})]"
        return ""

    def looks_like(self, message: Any) -> bool | None:
        if not isinstance(message, Mapping):
            return False
        kind = message.get("type")
        if isinstance(kind, str) and (
            kind in ("message", "reasoning") or _is_call(kind) or _is_output(kind)
        ):
            return True
        content = message.get("content")
        if (
            isinstance(content, Sequence)
            and not isinstance(content, str)
            and any(
                isinstance(p, Mapping) and p.get("type") in ("input_text", "output_text")
                for p in content
            )
        ):
            return True
        return None


register(ResponsesFormat())
