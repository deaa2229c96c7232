"""Gemini ``contents``: ``{"role": "user" | "model" | "function", "parts": [...]}``.

Parts (Gemini API, "Content" reference): ``text``, ``inlineData``/``inline_data`` and
``fileData``/``file_data`` (media), ``functionCall``/``function_call`` (``name``, ``args``,
optional ``id``), ``functionResponse``/``function_response`` (``name``, ``response``, optional
``id``), and ``thought`` text parts. The system instruction is a separate parameter: pass it as
``fit_messages(..., system=...)``.

Pairing (Gemini, "Function calling"): the function responses are sent in the content right
after the model content that made the calls, one response per call; the two are one unit. A
response is matched to its call by ``id`` when both carry one, else by function name.

Cost: Gemini's tokenizer is not public (the API has ``countTokens``), so figures here are
estimates (``estimated=True``) with the tokenizer given as a proxy: 3 tokens per content, a
part's text, a call's name and JSON args plus 3, a response's name and JSON plus 3 (JSON is
counted string by string, so a response holds at least its strings' tokens). Media
("Understand and count tokens"): an image of at most 384 px on both sides is 258 tokens and a
larger one is tiled in 768 x 768 tiles of 258 tokens each; the size is not read, so an image
is charged 6 tiles (1,548 tokens, an image up to 2304 x 1536); other media (audio, video,
files) are charged the same, flagged estimated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import ConfigurationError
from ..typing import Tokenizer
from ._formats import MessageFormat, as_text, json_cost, json_text, register

__all__ = ["GeminiFormat"]

TOKENS_PER_CONTENT = 3
TOKENS_PER_FUNCTION_PART = 3
#: 258 tokens per 768 x 768 tile; an image of unknown size is charged 6 tiles.
MEDIA_TOKENS = 258 * 6


def _get(part: Mapping[str, Any], camel: str, snake: str) -> Any:
    value = part.get(camel)
    return part.get(snake) if value is None else value


def _parts(message: Mapping[str, Any]) -> Sequence[Any]:
    parts = message.get("parts")
    return parts if isinstance(parts, Sequence) and not isinstance(parts, str) else ()


def _key(spec: Any) -> str:
    if not isinstance(spec, Mapping):
        return ""
    return str(spec.get("id") or f"name:{spec.get('name')}")


class GeminiFormat(MessageFormat):
    name = "gemini"

    def check(self, message: Any, index: int) -> None:
        if not isinstance(message, Mapping) or not isinstance(message.get("parts"), Sequence):
            raise ConfigurationError(
                f"message {index}: a Gemini content must be a mapping with a 'parts' list, "
                f"got {message!r:.200}"
            )

    def role(self, message: Any) -> str:
        if self.answers(message):
            return "tool"
        return {"model": "assistant", "user": "user"}.get(str(message.get("role")), "other")

    def cost(self, message: Any, tok: Tokenizer) -> int:
        total = TOKENS_PER_CONTENT
        for part in _parts(message):
            if not isinstance(part, Mapping):
                total += tok.count(as_text(part))
                continue
            call = _get(part, "functionCall", "function_call")
            response = _get(part, "functionResponse", "function_response")
            if isinstance(part.get("text"), str):
                total += tok.count(part["text"])
            elif isinstance(call, Mapping):
                total += TOKENS_PER_FUNCTION_PART + tok.count(str(call.get("name") or ""))
                total += json_cost(call.get("args") or {}, tok)
            elif isinstance(response, Mapping):
                total += TOKENS_PER_FUNCTION_PART + tok.count(str(response.get("name") or ""))
                total += json_cost(response.get("response") or {}, tok)
            elif any(k in part for k in ("inlineData", "inline_data", "fileData", "file_data")):
                total += MEDIA_TOKENS
            else:
                total += tok.count(json_text(part))
        return total

    def _specs(self, message: Any, camel: str, snake: str) -> list[Any]:
        return [
            spec
            for part in _parts(message)
            if isinstance(part, Mapping) and isinstance(spec := _get(part, camel, snake), Mapping)
        ]

    def calls(self, message: Any) -> tuple[str, ...]:
        return tuple(_key(s) for s in self._specs(message, "functionCall", "function_call"))

    def answers(self, message: Any) -> tuple[str, ...]:
        specs = self._specs(message, "functionResponse", "function_response")
        return tuple(_key(s) for s in specs)

    def text(self, message: Any) -> str:
        out = []
        for part in _parts(message):
            if not isinstance(part, Mapping):
                continue
            call = _get(part, "functionCall", "function_call")
            response = _get(part, "functionResponse", "function_response")
            if isinstance(part.get("text"), str):
                out.append(part["text"])
            elif isinstance(call, Mapping):
                out.append(f"[tool call {call.get('name')}({json_text(call.get('args') or {})})]")
            elif isinstance(response, Mapping):
                out.append(f"[tool result {json_text(response.get('response'))}]")
        return " ".join(p for p in out if p)

    def looks_like(self, message: Any) -> bool | None:
        return isinstance(message, Mapping) and "parts" in message and "content" not in message

    def without_answers(self, message: Any, ids: set[str]) -> Any | None:
        parts = [
            p
            for p in _parts(message)
            if not (
                isinstance(p, Mapping)
                and _key(_get(p, "functionResponse", "function_response")) in ids
            )
        ]
        return {**message, "parts": parts} if parts else None

    def without_calls(self, message: Any, ids: set[str]) -> Any | None:
        parts = [
            p
            for p in _parts(message)
            if not (
                isinstance(p, Mapping) and _key(_get(p, "functionCall", "function_call")) in ids
            )
        ]
        return {**message, "parts": parts} if parts else None


register(GeminiFormat())
