"""Sections from files: one file, one section, named by its stem or its front matter."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .._errors import ConfigurationError, SectionError
from ..memory._item import parse_items
from ._options import OPTION_NAMES
from ._sections import Section, name_problem
from ._yaml import YamlTooLarge, load_yaml

__all__ = ["load_sections"]

_FRONT_MATTER_KEYS = ("name", "item_defaults", *OPTION_NAMES)
#: The start of a per-line metadata marker (:mod:`ctxbudget.memory._item`).
_MARKER = "<!-- ctx:"


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise SectionError(f"no such file or directory: {str(path)!r}", section=path.stem)
    return files


def _front_matter(path: Path, text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---\n", 3)
    if end < 0 and text.endswith("\n---"):
        end = len(text) - 4
    if end < 0:
        raise SectionError(
            f"{path}: front matter opened with '---' on line 1 is never closed", section=path.stem
        )
    try:
        meta = load_yaml(text[4:end])[1] or {}
    except YamlTooLarge as exc:
        line = f":{exc.line + 1}" if exc.line is not None else ""
        raise SectionError(f"{path}{line}: front matter: {exc}", section=path.stem) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 2}" if mark is not None else ""
        raise SectionError(
            f"{path}{line}: front matter is not valid YAML", section=path.stem
        ) from exc
    if not isinstance(meta, dict):
        raise SectionError(f"{path}: front matter must be a YAML mapping", section=path.stem)
    unknown = sorted((set(meta) - set(_FRONT_MATTER_KEYS)), key=str)
    if unknown:
        raise SectionError(
            f"{path}: unknown front matter key {unknown[0]!r}; known keys: "
            f"{', '.join(_FRONT_MATTER_KEYS)}",
            section=path.stem,
        )
    return meta, text[end + 5 :]


def load_sections(paths: Iterable[str | Path]) -> list[Section]:
    """One :class:`~ctxbudget.Section` per file; a directory contributes each file in it.

    A file's section is named by its stem (``userFacts.md`` -> ``userFacts``), unless YAML
    front matter between ``---`` lines at its top sets ``name``; front matter may also set any
    section option (:class:`~ctxbudget.context.SectionOptions`: ``title``, ``weight``,
    ``required``, ``min_tokens``, ``max_tokens``, ``keep``, ``split``, ``reducers``). Files in
    a directory are taken in name order, hidden files skipped.

    A file whose lines carry metadata markers (``... <!-- ctx: kind=doc -->``) or whose front
    matter sets ``item_defaults:`` (a mapping of the same keys) becomes a section of
    :class:`~ctxbudget.memory.MemoryItem` s, one per non-blank line, markers stripped
    (:func:`~ctxbudget.memory.parse_items`; format in ``docs/cleanup.md``). Any other file's
    content is its text, as before.

    Args:
        paths: files and directories.

    Returns:
        The sections, in the order of ``paths`` (then name order within a directory).

    Raises:
        SectionError: a path does not exist, a file is not UTF-8 text, its front matter is
            invalid (the message names the file and key), a metadata marker or
            ``item_defaults`` value is malformed (file, line and value named), a file with
            item metadata sets ``split`` other than ``lines``, or two files give the same name.
    """
    sections: list[Section] = []
    seen: dict[str, Path] = {}
    for path in _expand(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise SectionError(f"{path}: not UTF-8 text ({exc.reason})", section=path.stem) from exc
        except OSError as exc:
            raise SectionError(f"{path}: cannot read: {exc.strerror}", section=path.stem) from exc
        section = section_from_text(text, origin=path, name=path.stem)
        if section.name in seen:
            raise SectionError(
                f"{path} and {seen[section.name]} both give the section name {section.name!r}",
                section=section.name,
            )
        seen[section.name] = path
        sections.append(section)
    return sections


def section_from_text(text: str, *, origin: Path, name: str) -> Section:
    """The section of one file's ``text``, as :func:`load_sections` makes it (front matter,
    item markers), named ``name`` unless its front matter sets one.

    ``origin`` names the text in error messages (a file, or ``<stdin>`` for the command line's
    ``-``). Raises :class:`~ctxbudget.SectionError` as :func:`load_sections` does.
    """
    meta, body = _front_matter(origin, text)
    name = meta.pop("name", name)
    if not isinstance(name, str) or not name:
        raise SectionError(
            f"{origin}: front matter 'name' must be a non-empty string", section=origin.stem
        )
    problem = name_problem(name)
    if problem:
        raise SectionError(f"{origin}: section name {problem}, got {name!r}", section=origin.stem)
    content: str | list[str] = body
    defaults = meta.pop("item_defaults", None)
    if defaults is not None or _MARKER in body:
        first = text.count("\n", 0, len(text) - len(body)) + 1
        content = _items(origin, body, defaults, meta.get("split"), name=name, first=first)
    try:
        return Section(name=name, content=content, **meta)
    except SectionError as exc:
        raise SectionError(f"{origin}: {exc.reason}", section=name) from exc


def _items(path: Path, body: str, defaults: Any, split: Any, *, name: str, first: int) -> list[str]:
    """The body as items with metadata, one per non-blank line."""
    if defaults is not None and not isinstance(defaults, dict):
        raise SectionError(f"{path}: front matter 'item_defaults' must be a mapping", section=name)
    if split not in (None, "lines"):
        raise SectionError(
            f"{path}: a file with item metadata is split into lines, not {split!r}", section=name
        )
    try:
        return list(parse_items(body, source=str(path), defaults=defaults, first_line=first))
    except ConfigurationError as exc:
        raise SectionError(str(exc), section=name) from None
