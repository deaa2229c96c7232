"""Naive reference (plain Python + tiktoken): greedy, re-counting the whole text every step.

Sections are taken highest weight first. For each, its items are added newest first, one at a
time; after each addition the WHOLE candidate text (every kept section in the shared layout, see
``_peer_common``) is encoded again with ``encode_ordinary``. When adding a section's next item
would exceed the cap, that section stops and the next section is tried. The output is the final
candidate text, so it is within the cap by construction.
"""

from __future__ import annotations

from typing import Any

from _peer_common import ordered_sections, render_sections

WORKLOAD = "sections"
NOTES = (
    "naive reference: sections by weight (highest first, ties in input order), items newest "
    "first, whole candidate text re-encoded with o200k encode_ordinary after every addition; a "
    "section stops at its first item that would overflow (later, smaller items of that section "
    "are not tried), then the next section is tried; layout '## name' + kept lines in original "
    "order, sections (highest weight first) separated by a blank line"
)


def version() -> str:
    import tiktoken

    return f"tiktoken {tiktoken.__version__}"


def prepare(data: dict[str, Any], enc: Any) -> tuple[list[tuple[str, list[str]]], int, Any]:
    sections = [(str(s["name"]), [str(i) for i in s["items"]]) for s in ordered_sections(data)]
    return sections, int(data["cap"]), enc


def call(prepared: tuple[list[tuple[str, list[str]]], int, Any]) -> str:
    sections, cap, enc = prepared
    kept: list[tuple[str, list[str]]] = []  # items kept newest first, per section
    text = ""
    for name, items in sections:
        mine: list[str] = []
        kept.append((name, mine))
        for item in reversed(items):
            mine.append(item)
            candidate = render_sections([(n, its[::-1]) for n, its in kept])
            if len(enc.encode_ordinary(candidate)) > cap:
                mine.pop()
                break
            text = candidate
    return text


def render(result: str) -> str:
    return result
