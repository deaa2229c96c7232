"""Real text for tests and benchmarks, read from the shared corpus (never copied into the repo).

The corpus folder is ``$CTXBUDGET_DATA``, else ``../shared/data`` beside the repository. It
holds ShareGPT conversations, Python documentation pages and the Jargon File.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: The default preset's sections, and which corpus fills each in a scale build.
SECTION_SOURCES = {
    "summaries": "conversations",
    "userProfile": "jargon",
    "userFacts": "jargon",
    "entities": "jargon",
    "graph": "pydocs",
    "decisions": "conversations",
    "learnings": "pydocs",
    "procedures": "pydocs",
}


def data_dir() -> Path:
    """The shared corpus folder."""
    return Path(os.environ.get("CTXBUDGET_DATA", REPO.parent / "shared" / "data"))


@lru_cache(maxsize=1)
def conversations() -> list[list[dict[str, str]]]:
    """Every conversation: a list of ``{"role", "content"}`` messages, in file order."""
    path = data_dir() / "sharegpt" / "conversations.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["messages"] for line in fh if line.strip()]


def message_items(messages: list[dict[str, str]]) -> list[str]:
    """A conversation as history items, one ``"role: content"`` item per message."""
    return [f"{m['role']}: {m['content']}" for m in messages if m["content"].strip()]


@lru_cache(maxsize=1)
def pydoc_pages() -> dict[str, str]:
    """Python documentation pages, by relative path, in path order."""
    root = data_dir() / "pydocs"
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*.rst.txt"))
    }


@lru_cache(maxsize=1)
def jargon_entries() -> list[str]:
    """Jargon File entries, each folded onto one line (``term: definition``)."""
    text = (data_dir() / "jargon.txt").read_text(encoding="utf-8")
    starts = [m.start() for m in re.finditer(r"(?m)^   :[^:\n]+:", text)]
    entries = []
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        entry = " ".join(text[begin:end].split())
        entries.append(entry.lstrip(":"))
    return entries


def source_text(kind: str) -> str:
    """All of one corpus as one text: conversations as message lines, pages, entries."""
    if kind == "conversations":
        return "\n".join(
            item.replace("\n", " ") for conv in conversations() for item in message_items(conv)
        )
    if kind == "pydocs":
        return "\n\n".join(pydoc_pages().values())
    return "\n".join(jargon_entries())


def scale_memory(total_bytes: int) -> dict[str, str]:
    """Eight default-preset sections of real text adding up to about ``total_bytes`` of UTF-8.

    Each section takes an equal share, cut from (and if needed repeating) its corpus, ending at
    a line boundary. English text runs about 4.3 bytes per o200k token, so ``43 MB`` is about
    10M tokens; callers count the result to report exact sizes.
    """
    share = total_bytes // len(SECTION_SOURCES)
    cache: dict[str, str] = {}
    memory = {}
    for i, (name, kind) in enumerate(SECTION_SOURCES.items()):
        text = cache.get(kind) or cache.setdefault(kind, source_text(kind))
        offset = (i * 7919) % max(1, len(text) // 2)  # different sections, different text
        body = (text[offset:] + "\n" + text) if share > len(text) - offset else text[offset:]
        while len(body) < share:
            body = body + "\n" + text
        cut = body.rfind("\n", 0, share)
        memory[name] = body[: cut if cut > 0 else share]
    return memory
