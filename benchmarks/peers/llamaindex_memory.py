"""LlamaIndex ``Memory`` with one ``StaticMemoryBlock`` per section ("sections" workload).

Blocks, highest weight first: ``StaticMemoryBlock(name=section name, static_content=items
joined by newlines, priority=rank)``, where rank is 1 for the lowest-weight section up to N for
the highest (ties: the later section in input order ranks lower). In llama-index-core 0.14
``Memory._truncate_memory_blocks`` truncates blocks in ascending ``priority`` order, skipping
priority 0 ("never truncate"), so the block with priority 1 goes first; the docstring's
"1 = highest priority" reads the other way, the code is what counts. No block gets priority 0,
or the cap could not be enforced.

Budget: ``Memory(token_limit=cap, tokenizer_fn=o200k encode_ordinary)``. At ``get()`` the
blocks are truncated when (block tokens + active chat-history tokens) > ``token_limit``.
``chat_history_token_ratio`` (default 0.7) and ``token_flush_size`` act only on ``put()``: they
bound the FIFO chat queue (at ``token_limit * ratio``) and how much is flushed from it to the
blocks at a time. There is no chat history here, so the blocks get the whole cap; both stay at
their defaults. Block tokens are counted on each block's raw content only; the
``<memory>``/``<name>`` template around them and the chat message framing are not counted.

``StaticMemoryBlock`` does not override ``atruncate``, whose default drops the WHOLE block; so
truncation is whole sections, never lines (a custom block could override ``atruncate``; that
is not LlamaIndex's own mechanism, so it is not done here).

Timed call: ``memory.get()`` (reads the empty chat history from the default in-memory SQLite
store, gathers, truncates and formats the blocks into a system message). Building the blocks
and the ``Memory`` is ``prepare``.
"""

from __future__ import annotations

from typing import Any

from _peer_common import chat_text, ordered_sections, package_version

WORKLOAD = "sections"
NOTES = (
    "llama_index.core.memory.Memory(token_limit=cap, tokenizer_fn=o200k encode_ordinary, "
    "chat_history_token_ratio/token_flush_size at defaults: they only bound the chat FIFO on "
    "put(), and there is no chat history, so the blocks get the whole cap); one "
    "StaticMemoryBlock per section, priority 1 (lowest weight, truncated first) .. N (highest "
    "weight); timed call memory.get(); StaticMemoryBlock truncation drops WHOLE blocks "
    "(sections), never lines: a section larger than the cap is dropped entirely, and blocks are "
    "removed lowest priority first until the rest fit, with no attempt to keep a smaller "
    "lower-priority block; only raw block contents are counted, not the <memory>/<name> "
    "template wrapping; text = the returned messages as 'role: content' lines"
)


def version() -> str:
    return package_version("llama-index-core")


def prepare(data: dict[str, Any], enc: Any) -> Any:
    from llama_index.core.memory import Memory, StaticMemoryBlock

    sections = ordered_sections(data)
    n = len(sections)
    blocks = [
        StaticMemoryBlock(
            name=str(s["name"]),
            static_content="\n".join(str(i) for i in s["items"]),
            priority=n - rank,
        )
        for rank, s in enumerate(sections)
        if s["items"]
    ]
    return Memory.from_defaults(
        token_limit=int(data["cap"]),
        tokenizer_fn=enc.encode_ordinary,
        memory_blocks=blocks,
    )


def call(memory: Any) -> list[Any]:
    return memory.get()


def render(result: list[Any]) -> str:
    pairs = []
    for msg in result:
        role = msg.role.value if hasattr(msg.role, "value") else str(msg.role)
        pairs.append((role, msg.content or ""))
    return chat_text(pairs)
