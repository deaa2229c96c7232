"""OpenAI Chat Completions messages, and LangChain message objects read the same way.

Chat: ``{"role", "content" (text or parts), "name"?, "tool_calls"?, "tool_call_id"?}``; the
cost rule is OpenAI's published one (see :mod:`ctxbudget.messages._counting`), exact for text
and ``name``, estimated for tool calls and images of unknown size. An assistant message with
``tool_calls`` and the ``tool`` messages answering it (parallel calls too) are one unit.

LangChain (``langchain_core.messages``): objects with ``type`` (``system``, ``human``, ``ai``,
``tool``...), ``content`` (text or blocks), ``tool_calls`` (``[{"name", "args", "id"}]``) and
``tool_call_id``; read by attribute, so langchain is never imported here, and costed by the same
OpenAI rule (what LangChain sends to OpenAI models).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .._errors import ConfigurationError
from ..typing import Tokenizer
from ._counting import (
    REPLY_PRIMING,
    TOKENS_PER_TOOL_CALL,
    is_estimated,
    message_cost,
    message_text,
    tool_calls,
)
from ._formats import Complement, MessageFormat, Roles, as_text, indices, json_text, register

__all__ = ["LangChainFormat", "OpenAIFormat"]

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_PLAIN_ROLES = frozenset({"system", "user", "assistant", "tool"})
#: Raw roles read as another (others unchanged: Units only looks for system and tool).
_NORMAL = {"developer": "system", "function": "tool"}


_ROLE = operator.itemgetter("role")


class OpenAIFormat(MessageFormat):
    name = "openai"
    priming = REPLY_PRIMING
    exact = True

    def check(self, message: Any, index: int) -> None:
        if type(message) is dict and type(message.get("role")) is str:
            content = message.get("content")
            if content is None or type(content) is str:
                return  # the common case, without the ABC checks below
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise ConfigurationError(
                f"message {index}: a message must be a mapping with a string 'role', "
                f"got {message!r:.200}"
            )
        message_text(message.get("content"))  # raises on content of the wrong type

    def role(self, message: Any) -> str:
        role = message["role"]
        return "tool" if role in ("tool", "function") else _ROLES.get(role, "other")

    def cost(self, message: Any, tok: Tokenizer) -> int:
        return message_cost(message, tok)

    def estimated(self, message: Any) -> bool:
        return is_estimated(message)

    def calls(self, message: Any) -> tuple[str, ...]:
        return tuple(
            str(call["id"])
            for call in message.get("tool_calls") or ()
            if isinstance(call, Mapping) and call.get("id") is not None
        )

    def answers(self, message: Any) -> tuple[str, ...]:
        if message["role"] == "tool" and message.get("tool_call_id") is not None:
            return (str(message["tool_call_id"]),)
        return ()

    def links_back(self, message: Any, previous: Any) -> bool:
        return bool(message["role"] == "tool")

    def roles(self, messages: Sequence[Any]) -> Roles:
        # Read at C speed (one itemgetter map); anything unusual takes the checked path.
        try:
            raw = Roles(map(_ROLE, messages))
        except (KeyError, TypeError, IndexError):
            return super().roles(messages)
        if raw.present <= _PLAIN_ROLES:
            return raw
        if not all(type(k) is str for k in raw.present):
            return super().roles(messages)
        return Roles(map(_NORMAL.get, raw, raw))

    def unit_starts(self, messages: Sequence[Any]) -> Sequence[int]:
        # The generic rule for this format's links (a "tool" message stays with the message
        # before it), from the roles at C speed: a tool message starts a unit only at the
        # start or after a system message; system messages are no unit.
        roles = self.roles(messages)
        skip = indices(roles, "system")
        skip += [t for t in indices(roles, "tool") if t > 0 and roles[t - 1] != "system"]
        skip.sort()
        return Complement(len(roles), skip)

    def text(self, message: Any) -> str:
        text = message_text(message.get("content"))
        calls = [f"[tool call {name}({arguments})]" for name, arguments in tool_calls(message)]
        return " ".join(part for part in [text, *calls] if part)

    def looks_like(self, message: Any) -> bool | None:
        if not isinstance(message, Mapping) or "role" not in message:
            return False
        if message.get("tool_calls") or message["role"] in ("tool", "developer"):
            return True
        return None

    def without_calls(self, message: Any, ids: set[str]) -> Any | None:
        calls = [
            c
            for c in message.get("tool_calls") or ()
            if not (isinstance(c, Mapping) and str(c.get("id")) in ids)
        ]
        copy = {k: v for k, v in message.items() if k != "tool_calls"}
        if calls:
            copy["tool_calls"] = calls
        elif not message_text(message.get("content")):
            return None
        return copy


class LangChainFormat(MessageFormat):
    name = "langchain"
    priming = REPLY_PRIMING
    exact = True

    _ROLES: ClassVar[dict[str, str]] = {
        "system": "system",
        "human": "user",
        "ai": "assistant",
        "tool": "tool",
        "function": "tool",
        "chat": "user",
    }

    def check(self, message: Any, index: int) -> None:
        if not (isinstance(getattr(message, "type", None), str) and hasattr(message, "content")):
            raise ConfigurationError(
                f"message {index}: a LangChain message needs 'type' and 'content', "
                f"got {message!r:.200}"
            )

    def role(self, message: Any) -> str:
        return self._ROLES.get(message.type, "other")

    @staticmethod
    def _calls(message: Any) -> list[tuple[str, str, str | None]]:
        return [
            (str(call.get("name") or ""), json_text(call.get("args") or {}), call.get("id"))
            for call in getattr(message, "tool_calls", None) or ()
            if isinstance(call, Mapping)
        ]

    def cost(self, message: Any, tok: Tokenizer) -> int:
        role = {"user": "user", "assistant": "assistant", "tool": "tool"}.get(
            self.role(message), "system"
        )
        total = 3 + tok.count(role) + tok.count(as_text(message.content))
        name = getattr(message, "name", None)
        if isinstance(name, str):
            total += 1 + tok.count(name)
        for fn, args, _ in self._calls(message):
            total += TOKENS_PER_TOOL_CALL + tok.count(fn) + tok.count(args)
        return total

    def estimated(self, message: Any) -> bool:
        return bool(self._calls(message)) or not isinstance(message.content, str)

    def calls(self, message: Any) -> tuple[str, ...]:
        return tuple(str(i) for _, _, i in self._calls(message) if i is not None)

    def answers(self, message: Any) -> tuple[str, ...]:
        call_id = getattr(message, "tool_call_id", None)
        return (str(call_id),) if message.type == "tool" and call_id is not None else ()

    def links_back(self, message: Any, previous: Any) -> bool:
        return bool(message.type == "tool")

    def without_calls(self, message: Any, ids: set[str]) -> Any | None:
        """A copy (``model_copy``) without the calls ``ids``, in ``tool_calls`` and in content
        blocks (``tool_use`` / ``tool_call``); ``None`` when no call and no text is left,
        as for OpenAI messages."""
        calls = [
            c
            for c in getattr(message, "tool_calls", None) or ()
            if not (isinstance(c, Mapping) and str(c.get("id")) in ids)
        ]
        content = message.content
        if isinstance(content, list):
            content = [
                b
                for b in content
                if not (
                    isinstance(b, Mapping)
                    and b.get("type") in ("tool_use", "tool_call")
                    and str(b.get("id")) in ids
                )
            ]
        copy = getattr(message, "model_copy", None)
        if copy is None or (not calls and not as_text(content)):
            return None
        return copy(update={"tool_calls": calls, "content": content})

    def text(self, message: Any) -> str:
        calls = [f"[tool call {fn}({args})]" for fn, args, _ in self._calls(message)]
        return " ".join(p for p in [as_text(message.content), *calls] if p)

    def looks_like(self, message: Any) -> bool | None:
        return bool(
            not isinstance(message, Mapping)
            and isinstance(getattr(message, "type", None), str)
            and hasattr(message, "content")
        )


register(OpenAIFormat())
register(LangChainFormat())
