"""Anthropic Messages API messages: ``{"role": "user" | "assistant", "content": str | blocks}``.

Blocks (Anthropic, "Messages" API reference): ``text``, ``image``, ``document``, ``tool_use``
(``id``, ``name``, ``input``), ``tool_result`` (``tool_use_id``, ``content`` as text or
blocks), ``thinking`` and ``redacted_thinking``; any block may carry ``cache_control``, which
is kept because :func:`~ctxbudget.fit_messages` returns the original objects. The system
prompt is a top-level parameter, not a message: pass it as ``fit_messages(..., system=...)``.

Pairing (Anthropic, "Tool use"): a ``tool_result`` must be in the user message right after the
assistant message holding its ``tool_use``; the two messages are one unit. A trimmed history
starts with a user message that is not only tool results.

Cost: Anthropic publishes no tokenizer for Claude 3 and later, and no message overhead, so
every figure here is an estimate (``estimated=True``), counted with the tokenizer given (a
proxy): 3 tokens per message, a block's text, a ``tool_use``'s name and JSON input (counted
string by string) plus 3, a ``tool_result``'s content plus 3, thinking text, a redacted
block's data. Images follow Anthropic's "Vision" guide: about ``width * height / 750``
tokens after resizing to at most 1,568 px on the long edge and about 1.15 megapixels, so at
most about 1,600 tokens; the size is not read, so every image is charged that bound. PDFs
("PDF support"): each page costs 1,500 to 3,000 text tokens plus an image; a base64 PDF is
charged 3,000 + 1,600 per page, pages counted from its ``/Type /Page`` objects; a text
document is charged its text.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import ConfigurationError
from ..typing import Tokenizer
from ._formats import MessageFormat, as_text, json_cost, json_text, register

__all__ = ["AnthropicFormat"]

TOKENS_PER_MESSAGE = 3
TOKENS_PER_TOOL_BLOCK = 3
#: Upper bound of one image (Anthropic "Vision": ~1.15 MP / 750 tokens per pixel^2 block).
IMAGE_TOKENS = 1600
#: Tokens charged per PDF page: the high end of the text range plus one page image.
PDF_PAGE_TOKENS = 3000 + IMAGE_TOKENS
_PAGE = re.compile(rb"/Type\s*/Page(?!s)")
_ANTHROPIC_BLOCKS = frozenset(
    {"tool_use", "tool_result", "thinking", "redacted_thinking", "document", "server_tool_use"}
)


def _blocks(message: Mapping[str, Any]) -> Sequence[Any]:
    content = message.get("content")
    if isinstance(content, str) or not isinstance(content, Sequence):
        return ()
    return content


def _pdf_pages(source: Mapping[str, Any]) -> int:
    data = source.get("data")
    if not isinstance(data, str):
        return 1
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return 1
    return max(1, len(_PAGE.findall(raw)))


def block_cost(block: Any, tok: Tokenizer) -> int:  # noqa: PLR0911 - one case per block type
    """Tokens of one content block (see the module's rule)."""
    if isinstance(block, str):
        return tok.count(block)
    if not isinstance(block, Mapping):
        return tok.count(json_text(block))
    kind = block.get("type")
    if kind == "text":
        return tok.count(as_text(block.get("text")))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        source = block.get("source") or {}
        if isinstance(source, Mapping) and source.get("type") == "text":
            return tok.count(as_text(source.get("data")))
        if isinstance(source, Mapping) and source.get("type") == "content":
            return sum(block_cost(b, tok) for b in source.get("content") or ())
        return PDF_PAGE_TOKENS * (_pdf_pages(source) if isinstance(source, Mapping) else 1)
    if kind in ("tool_use", "server_tool_use"):
        name = str(block.get("name") or "")
        return TOKENS_PER_TOOL_BLOCK + tok.count(name) + json_cost(block.get("input"), tok)
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, Sequence) and not isinstance(content, str):
            inner = sum(block_cost(b, tok) for b in content)
        else:
            inner = tok.count(as_text(content))
        return TOKENS_PER_TOOL_BLOCK + inner
    if kind == "thinking":
        return tok.count(as_text(block.get("thinking")))
    if kind == "redacted_thinking":
        return tok.count(as_text(block.get("data")))
    return tok.count(json_text({k: v for k, v in block.items() if k != "cache_control"}))


class AnthropicFormat(MessageFormat):
    name = "anthropic"
    priming = 0

    def check(self, message: Any, index: int) -> None:
        if not isinstance(message, Mapping) or message.get("role") not in ("user", "assistant"):
            raise ConfigurationError(
                f"message {index}: an Anthropic message must be a mapping with role 'user' or "
                f"'assistant' (the system prompt is a separate parameter), got {message!r:.200}"
            )
        content = message.get("content")
        if not isinstance(content, (str, Sequence)):
            raise ConfigurationError(
                f"message {index}: content must be text or a list of blocks, got {content!r:.200}"
            )

    def role(self, message: Any) -> str:
        if (
            message["role"] == "user"
            and self.answers(message)
            and all(
                isinstance(b, Mapping) and b.get("type") == "tool_result" for b in _blocks(message)
            )
        ):
            return "tool"
        return str(message["role"])

    def cost(self, message: Any, tok: Tokenizer) -> int:
        content = message.get("content")
        if isinstance(content, str):
            return TOKENS_PER_MESSAGE + tok.count(content)
        return TOKENS_PER_MESSAGE + sum(block_cost(b, tok) for b in _blocks(message))

    def calls(self, message: Any) -> tuple[str, ...]:
        return tuple(
            str(b["id"])
            for b in _blocks(message)
            if isinstance(b, Mapping) and b.get("type") == "tool_use" and "id" in b
        )

    def answers(self, message: Any) -> tuple[str, ...]:
        return tuple(
            str(b["tool_use_id"])
            for b in _blocks(message)
            if isinstance(b, Mapping) and b.get("type") == "tool_result" and "tool_use_id" in b
        )

    def text(self, message: Any) -> str:
        parts = []
        for b in _blocks(message) or [message.get("content")]:
            if isinstance(b, str):
                parts.append(b)
            elif isinstance(b, Mapping):
                kind = b.get("type")
                if kind == "text":
                    parts.append(as_text(b.get("text")))
                elif kind == "tool_use":
                    parts.append(f"[tool call {b.get('name')}({json_text(b.get('input'))})]")
                elif kind == "tool_result":
                    parts.append(f"[tool result {as_text(b.get('content'))}]")
        return " ".join(p for p in parts if p)

    def looks_like(self, message: Any) -> bool | None:
        if not isinstance(message, Mapping) or message.get("role") not in ("user", "assistant"):
            return False
        for b in _blocks(message):
            if isinstance(b, Mapping) and (
                b.get("type") in _ANTHROPIC_BLOCKS
                or (b.get("type") == "image" and "source" in b)
                or "cache_control" in b
            ):
                return True
        return None

    def without_answers(self, message: Any, ids: set[str]) -> Any | None:
        return self._without(
            message, lambda b: b.get("type") == "tool_result" and str(b.get("tool_use_id")) in ids
        )

    def without_calls(self, message: Any, ids: set[str]) -> Any | None:
        return self._without(
            message, lambda b: b.get("type") == "tool_use" and str(b.get("id")) in ids
        )

    @staticmethod
    def _without(message: Any, drop: Any) -> Any | None:
        blocks = [b for b in _blocks(message) if not (isinstance(b, Mapping) and drop(b))]
        if not blocks:
            return None
        return {**message, "content": blocks}


register(AnthropicFormat())
