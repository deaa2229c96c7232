"""The LlamaIndex memory block inside a real Memory.from_defaults: memory.get() carries our
build, within the block's cap; flushed chat lands in the block's history section."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from llama_index.core.async_utils import asyncio_run
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import Memory

from ctxbudget import ConfigurationError, RequiredSectionsExceedCap, Section
from ctxbudget.integrations.llamaindex import ContextBlock
from ctxbudget.testing import CharTokenizer

CHARS = CharTokenizer()
FACTS = [f"fact number {i:02d}" for i in range(20)]  # 14 characters each


_MADE: list[Memory] = []


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    """Each Memory opens an in-memory SQLite chat store (aiosqlite) on llama-index's event
    loop; close them there, so none is left for the garbage collector to warn about."""
    yield
    while _MADE:
        engine = _MADE.pop().sql_store._async_engine
        if engine is not None:
            asyncio_run(engine.dispose())


def _memory(block: ContextBlock, **options: object) -> Memory:
    options = {"token_limit": 2_000, "tokenizer_fn": CHARS.encode, **options}
    memory = Memory.from_defaults(memory_blocks=[block], **options)
    _MADE.append(memory)
    return memory


def _block_text(messages: list[ChatMessage], name: str) -> str:
    (system,) = [m for m in messages if m.role.value == "system"]
    found = re.search(rf"<{name}>\n(.*)\n</{name}>", system.content or "", re.S)
    assert found is not None
    return found.group(1)


def test_memory_get_carries_our_build_within_the_block_cap() -> None:
    """The block's text in memory.get() is build_context's, at most 100 tokens: the header
    '## Facts' (8) and the newest six facts (6 x 14 + 5 newlines = 89) = 98 tokens."""
    block = ContextBlock(name="context", sections={"facts": FACTS}, max_tokens=100, tokenizer=CHARS)
    memory = _memory(block)
    memory.put(ChatMessage(role="user", content="hello"))
    messages = memory.get()
    text = _block_text(messages, "context")
    assert text == "\n".join(["## Facts", *FACTS[-6:]])
    assert CHARS.count(text) == 98
    assert block.last_build is not None
    assert block.last_build.tokens == 98
    assert messages[-1].content == "hello"


def test_sections_may_be_a_function_of_the_chat() -> None:
    """A callable sees the chat history and the new input on every get."""
    seen: list[list[str]] = []

    def sections(messages: list[ChatMessage]) -> dict[str, object]:
        seen.append([m.content or "" for m in messages])
        return {"last": messages[-1].content or ""}

    block = ContextBlock(name="ctx", sections=sections, max_tokens=50, tokenizer=CHARS)
    memory = _memory(block)
    memory.put(ChatMessage(role="user", content="q1"))
    assert _block_text(memory.get(input="q2"), "ctx") == "## Last\nq2"
    assert seen == [["q1", "q2"]]


def test_flushed_messages_land_in_the_history_section() -> None:
    """A short-term queue over its share flushes its oldest messages into the block, which
    shows them (newest kept) within its cap."""
    block = ContextBlock(name="context", sections={}, max_tokens=60, tokenizer=CHARS)
    memory = _memory(block, token_limit=200, chat_history_token_ratio=0.5, token_flush_size=40)
    for i in range(8):
        memory.put(ChatMessage(role="user", content=f"message {i} " + "x" * 10))
    text = _block_text(memory.get(), "context")
    assert block.history  # something was flushed
    assert block.history[0].startswith("user: message 0")
    assert CHARS.count(text) <= 60
    assert text.startswith("## History\n")
    assert text.endswith(block.history[-1])


def test_memory_truncation_asks_the_block_for_less() -> None:
    """A priority-1 block in a memory whose limit it passes is rebuilt smaller, never over
    its cap; an empty section set gives no block."""
    block = ContextBlock(
        name="context", sections={"facts": FACTS}, max_tokens=300, tokenizer=CHARS, priority=1
    )
    memory = _memory(block, token_limit=150)
    memory.put(ChatMessage(role="user", content="hi"))
    text = _block_text(memory.get(), "context")
    assert 0 < CHARS.count(text) < 300 - 150
    empty = ContextBlock(name="none", sections={}, max_tokens=50, tokenizer=CHARS)
    out = _memory(empty).get(input="hey")
    assert all("<none>" not in (m.content or "") for m in out)


def test_hostile_block_settings() -> None:
    """max_tokens=0 is refused; a required section larger than the cap raises from get()."""
    with pytest.raises(ConfigurationError, match="max_tokens"):
        ContextBlock(name="c", sections={}, max_tokens=0)
    big = [Section(name="rules", content="r" * 200, required=True)]
    block = ContextBlock(name="c", sections={}, max_tokens=50, tokenizer=CHARS)
    block.sections = lambda messages: big
    with pytest.raises(RequiredSectionsExceedCap):
        _memory(block).get(input="x")
