"""priompt (the PyPI Python port) on the "sections" workload: one scope per item.

Tree: a list of section scopes, highest weight first. A section scope holds its header text and
one ``Scope`` per item (oldest first, so kept items stay in order). Layout as in
``_peer_common``: ``"## name"``, each item as ``"\\n" + item``, and ``"\\n\\n"`` before every
section header but the first in the tree.

Priorities (absolute ``p``, higher = kept longer), lexicographic in (section rank, recency):
walk the sections from the lowest-ranked (lowest weight; among equal weights the later in input
order) up, with ``offset`` = number of items in the sections already walked; item ``i``
(0 = oldest) of a section with ``n`` items gets ``p = offset + i + 1``, and the section scope
gets ``p = offset + n`` (its newest item's), so its header is present exactly when one of its
items is. So every item of a higher-weight section outranks every item of a lower-weight one,
and within a section newer outranks older.

Timed call: ``priompt.render(tree, {"token_limit": cap, "tokenizer": O200KTokenizer})`` (the
port's ``render`` = ``render_binary_search``: a binary search over the distinct priority levels
for the lowest cutoff whose rendering fits, counted exactly with the port's own o200k tokenizer,
which encodes with ``disallowed_special=()``). Building the scope tree is ``prepare``.
"""

from __future__ import annotations

from typing import Any

from _peer_common import header, ordered_sections, package_version

WORKLOAD = "sections"
NOTES = (
    "priompt.render (binary search over priority levels, exact count with the port's "
    "O200KTokenizer) with token_limit=cap; one Scope per item inside one Scope per section "
    "(header in the section scope); absolute priorities lexicographic in (section weight rank, "
    "recency): item i (0=oldest) of a section = i + 1 + (items in all lower-ranked sections), "
    "section scope = its newest item's priority; a single priority cutoff, so once one item does "
    "not fit, nothing of lower priority (older items, lower-weight sections) is included even if "
    "it would fit; building the scope tree (Scope() calls) is the untimed prepare"
)


def version() -> str:
    return package_version("priompt")


def build_tree(data: dict[str, Any]) -> list[Any]:
    from priompt import Scope

    sections = ordered_sections(data)
    offset = 0
    offsets: list[int] = [0] * len(sections)
    for rank in range(len(sections) - 1, -1, -1):  # lowest-ranked section first
        offsets[rank] = offset
        offset += len(sections[rank]["items"])

    tree: list[Any] = []
    for rank, section in enumerate(sections):
        items = [str(i) for i in section["items"]]
        if not items:
            continue
        base = offsets[rank]
        head = ("\n\n" if tree else "") + header(str(section["name"])).rstrip("\n")
        children = [Scope("\n" + item, p=base + i + 1) for i, item in enumerate(items)]
        tree.append(Scope(head, *children, p=base + len(items), name=str(section["name"])))
    return tree


def prepare(data: dict[str, Any], enc: Any) -> dict[str, Any]:
    from priompt import O200KTokenizer

    return {
        "tree": build_tree(data),
        "options": {"token_limit": int(data["cap"]), "tokenizer": O200KTokenizer},
    }


def call(prepared: dict[str, Any]) -> dict[str, Any]:
    from priompt import render as priompt_render

    return priompt_render(prepared["tree"], prepared["options"])


def render(result: dict[str, Any]) -> str:
    prompt = result.get("prompt")
    if prompt is None:
        return ""
    if isinstance(prompt, list):  # a plain prompt split by break tokens; none are used here
        return "".join(prompt)
    if isinstance(prompt, str):
        return prompt
    raise TypeError(f"unexpected priompt prompt type {type(prompt)}")
