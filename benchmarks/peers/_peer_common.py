"""Helpers shared by the peer adapters (standard library only).

The "sections" layout every sections adapter aims for, where its peer allows: kept sections in
priority order (highest weight first; equal weights keep input order), each rendered as
``"## name\\n"`` followed by its kept items in their original order, one per line, with a blank
line between sections. This is also the naive reference's output.
"""

from __future__ import annotations

from typing import Any


def ordered_sections(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The input's sections, highest weight first; ties keep input order (stable sort)."""
    return sorted(data["sections"], key=lambda s: -float(s["weight"]))


def header(name: str) -> str:
    return f"## {name}\n"


def render_sections(kept: list[tuple[str, list[str]]]) -> str:
    """``[(name, kept items in original order), ...]`` in the naive reference's layout."""
    return "\n\n".join(header(name) + "\n".join(items) for name, items in kept if items)


def chat_text(pairs: list[tuple[str, str]]) -> str:
    """Chat messages as the benchmark compares them: ``role: content`` lines."""
    return "\n".join(f"{role}: {content}" for role, content in pairs)


def package_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"
