"""A LlamaIndex memory block whose content is a ctxbudget build
(``pip install 'ctxbudget[llamaindex]'``).

``Memory.from_defaults(memory_blocks=[ContextBlock(name="context", sections=..., max_tokens=
800)])``: every ``memory.get(...)`` asks the block for its content, and the block answers with
:func:`~ctxbudget.build_context` over its sections (priority weights, whole-line trimming of
the lowest priorities first, the exact count verified), so the block's text never exceeds its
``max_tokens`` by the block's tokenizer. Messages that the memory flushes out of its short-term
queue land in the block's ``history`` section (newest kept when it must be trimmed), so what
leaves the chat window still competes for the block's room.

>>> block = ContextBlock(name="context", sections={"facts": f}, max_tokens=800)  # doctest: +SKIP
>>> memory = Memory.from_defaults(memory_blocks=[block], token_limit=4_000)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._errors import BudgetError, CtxBudgetError
from .._validate import whole_number
from ..context import BuiltContext, Section, build_context
from ..tokenizers import get_tokenizer

try:
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.bridge.pydantic import Field, PrivateAttr
    from llama_index.core.memory.memory import BaseMemoryBlock
except ImportError as exc:  # pragma: no cover - exercised where llama-index-core is absent
    raise CtxBudgetError(
        "the LlamaIndex adapter needs llama-index-core: pip install 'ctxbudget[llamaindex]'"
    ) from exc

__all__ = ["ContextBlock"]

#: What ``sections`` may be: what :func:`~ctxbudget.build_context` takes (a mapping of name to
#: content, or ``Section`` objects and memory stores), or a function of the memory's chat
#: history (plus the new input) that returns one.
Sections = Mapping[str, Any] | Iterable[Any] | Callable[[list[ChatMessage]], Any]


def _line(message: ChatMessage) -> str:
    role = getattr(message.role, "value", message.role)
    return f"{role}: {message.content or ''}"


class ContextBlock(BaseMemoryBlock[str]):
    """A ``BaseMemoryBlock`` whose content is ``build_context(sections, max_tokens=...)``.

    Attributes:
        name: the block's name (the tag LlamaIndex wraps its content in).
        sections: the sections to build (see :data:`Sections`); a function is called on every
            ``get`` with the chat history and the new input.
        max_tokens: the block's cap, in tokens of ``tokenizer``.
        tokenizer: the tokenizer spec or object (``"o200k_base"`` by default).
        preset: weights and options per section name (a preset name, file or object).
        history_section: the section that collects the messages flushed from short-term
            memory (``None``: such messages are not kept).
        priority: LlamaIndex's block priority (0: never truncated by the memory; otherwise the
            memory may ask :meth:`atruncate` for less).

    Raises:
        ConfigurationError: ``max_tokens`` is not a whole number >= 1, or ``tokenizer`` is not
            a known spec (when the block is made).
    """

    sections: Any = Field(description="build_context sections, or a function of the messages")
    max_tokens: int = Field(description="the block's cap, in tokens")
    tokenizer: Any = Field(default="o200k_base", description="a ctxbudget tokenizer spec")
    preset: Any = Field(default=None, description="a ctxbudget preset")
    history_section: str | None = Field(default="history")
    history: list[str] = Field(default_factory=list, description="flushed messages, oldest first")
    _last: BuiltContext | None = PrivateAttr(default=None)
    _last_sections: Any = PrivateAttr(default_factory=dict)

    def __init__(self, **data: Any) -> None:
        # checked before pydantic sees them, so the error is ours, not a ValidationError
        whole_number(data.get("max_tokens"), "max_tokens", minimum=1, unit="tokens")
        data["tokenizer"] = get_tokenizer(data.get("tokenizer", "o200k_base"))
        super().__init__(**data)

    @property
    def last_build(self) -> BuiltContext | None:
        """The report of the latest build (kept, trimmed and dropped items per section)."""
        return self._last

    def _sections(self, messages: list[ChatMessage]) -> Any:
        sections = self.sections(messages) if callable(self.sections) else self.sections
        if not isinstance(sections, Mapping):  # Section objects and memory stores
            listed = list(sections)
            if self.history_section is not None and self.history:
                history = list(self.history)
                listed.append(Section(name=self.history_section, content=history, keep="end"))
            return listed
        out = dict(sections)
        if self.history_section is not None and self.history:
            earlier = out.get(self.history_section)
            items = [earlier] if isinstance(earlier, str) else list(earlier or [])
            out[self.history_section] = [*items, *self.history]
        return out

    def _build(self, sections: Any, max_tokens: int) -> str:
        self._last_sections = sections
        self._last = build_context(
            sections, max_tokens=max_tokens, tokenizer=self.tokenizer, preset=self.preset
        )
        return self._last.text

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        """The build's text, at most ``max_tokens`` tokens (``""`` when nothing fits).

        Raises:
            RequiredSectionsExceedCap, SectionError, ...: as :func:`~ctxbudget.build_context`.
        """
        return self._build(self._sections(list(messages or [])), self.max_tokens)

    async def _aput(self, messages: list[ChatMessage]) -> None:
        """Keep flushed messages, one ``"role: text"`` item each, in ``history_section``."""
        if self.history_section is not None:
            self.history.extend(_line(m) for m in messages)

    async def atruncate(self, content: str, tokens_to_truncate: int) -> str | None:
        """The same sections rebuilt ``tokens_to_truncate`` tokens smaller (by the block's
        tokenizer), or ``None`` when nothing would be left or the required sections no
        longer fit."""
        target = self.tokenizer.count(content) - tokens_to_truncate
        if target < 1:
            return None
        try:
            return self._build(self._last_sections, target) or None
        except BudgetError:
            return None
