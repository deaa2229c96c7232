"""Items with metadata: a memory item's text plus what cleanup needs to know about it.

A :class:`MemoryItem` is a ``str`` (its text), so every path that treats items as text (the
builder, reducers, trimming, the archive) takes it unchanged, and it carries its kind, when it
was created and last accessed, its size if the store knows it, its task and status, its source
and, for documents, whether it is loaded in full or as a summary.

Files and stores declare metadata in text with a trailing marker on a line, an HTML comment
so that Markdown renders it invisibly::

    Traceback in parser.py line 40 <!-- ctx: kind=debug created=2026-12-01T10:00:00Z -->
    Refactor the loader <!-- ctx: kind=task task=t1 status=completed accessed=2026-12-01T09:00Z -->

:func:`parse_items` turns such text into one item per non-blank line, the marker stripped from
the item's text. Keys (:data:`FIELDS`, each also accepted by its long name): ``kind``,
``created`` (``created_at``), ``accessed`` (``last_accessed``), ``tokens``, ``task``
(``task_id``), ``status``, ``source``, ``loaded``. Values contain no spaces; times are ISO 8601
with a time zone (``Z`` or ``+02:00``). A section file's front matter may set
``item_defaults:`` (a mapping of the same keys) that every line of the file starts from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .._errors import ConfigurationError

__all__ = ["FIELDS", "MemoryItem", "parse_items"]

#: Metadata attributes of a :class:`MemoryItem`, by the short key markers use.
FIELDS: Mapping[str, str] = {
    "kind": "kind",
    "created": "created_at",
    "accessed": "last_accessed",
    "tokens": "tokens",
    "task": "task_id",
    "status": "status",
    "source": "source",
    "loaded": "loaded",
}
#: Private attributes an item fills with what is read from its text (``dedupe``'s words,
#: ``memory._reducers._signature``): not metadata, kept by :meth:`MemoryItem.evolve` when the
#: text stays the same.
_DERIVED = frozenset({"_dedupe_words"})
_KEYS = {**FIELDS, **{v: v for v in FIELDS.values()}}
_TIMES = ("created_at", "last_accessed")
_LOADED = ("full", "summary")
#: After a comment's ``<!--``: optional spaces, then ``ctx:`` (matched at one position only).
_CTX = re.compile(r"\s*ctx:")


def _marker(line: str) -> tuple[int, str] | None:
    """``(end of the text before it, the marker's pairs)`` when ``line`` ends with a
    ``<!-- ctx: ... -->`` comment (its last comment; trailing spaces allowed), else ``None``.

    Linear in the line's length (a regex search for the marker from every position was
    quadratic: 40,000 spaces took 8 s).
    """
    end = len(line.rstrip())
    if not line.endswith("-->", 0, end):
        return None
    start = line.rfind("<!--", 0, end - 3)
    if start < 0:
        return None
    ctx = _CTX.match(line, start + 4, end - 3)
    if ctx is None:
        return None
    return len(line[:start].rstrip()), line[ctx.end() : end - 3]


_NAME = re.compile(r"^[\w.:/@-]+$")


def _check(field: str, value: Any) -> Any:
    """``value`` if valid for ``field``, else ConfigurationError naming both."""
    if value is None:
        return None
    if field in _TIMES:
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ConfigurationError(
                f"MemoryItem {field} must be a timezone-aware datetime, got {value!r}"
            )
        return value
    if field == "tokens":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigurationError(f"MemoryItem tokens must be an int >= 0, got {value!r}")
        return value
    if field == "loaded" and value not in _LOADED:
        raise ConfigurationError(f"MemoryItem loaded must be 'full' or 'summary', got {value!r}")
    if field in ("kind", "status") and not (isinstance(value, str) and _NAME.match(value)):
        raise ConfigurationError(
            f"MemoryItem {field} must be a non-empty name without spaces, got {value!r}"
        )
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"MemoryItem {field} must be a non-empty string, got {value!r}")
    return value


class MemoryItem(str):
    """One memory item: its text (the ``str`` itself) and its metadata.

    Args:
        text: the item's text.
        kind: what it is: ``"debug"``, ``"task"``, ``"file"``, ``"skill"``, ``"doc"``,
            ``"interaction"``, ``"agent_state"``, ``"summary"``, any other name, or ``None``.
        created_at, last_accessed: timezone-aware datetimes, or ``None`` (unknown).
        tokens: its size in tokens as the store counted it (cleanup uses it instead of
            counting), or ``None``.
        task_id, status: the task it belongs to and its state (``"active"``, ``"completed"``).
        source: where it came from (a file, a store).
        loaded: for documents, ``"full"`` or ``"summary"``; else ``None``.

    Raises:
        ConfigurationError: a naive or non-datetime time, a negative or non-int ``tokens``,
            ``loaded`` other than ``"full"``/``"summary"``, a ``kind`` or ``status`` that is not
            a name without spaces, or an empty or non-str ``task_id``/``source`` (the message
            names the attribute and the value).

    Equality, hashing, ordering and every ``str`` method are those of the text: two items with
    the same text are equal whatever their metadata, and slicing, ``+``, ``strip()``... return
    plain ``str`` (metadata belongs to the whole item, not to a piece of it). Items are
    immutable; :meth:`evolve` returns a changed copy (``replace`` is ``str.replace``).

    >>> item = MemoryItem("pytest -x failed", kind="debug")
    >>> item == "pytest -x failed", item.kind, type(item[:6]).__name__
    (True, 'debug', 'str')
    """

    kind: str | None
    created_at: datetime | None
    last_accessed: datetime | None
    tokens: int | None
    task_id: str | None
    status: str | None
    source: str | None
    loaded: str | None

    def __new__(
        cls,
        text: str,
        *,
        kind: str | None = None,
        created_at: datetime | None = None,
        last_accessed: datetime | None = None,
        tokens: int | None = None,
        task_id: str | None = None,
        status: str | None = None,
        source: str | None = None,
        loaded: str | None = None,
    ) -> MemoryItem:
        if not isinstance(text, str):
            raise ConfigurationError(f"MemoryItem text must be a str, got {type(text).__name__}")
        self = super().__new__(cls, text)
        values = {
            "kind": kind,
            "created_at": created_at,
            "last_accessed": last_accessed,
            "tokens": tokens,
            "task_id": task_id,
            "status": status,
            "source": source,
            "loaded": loaded,
        }
        for field, value in values.items():
            object.__setattr__(self, field, _check(field, value))
        return self

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"MemoryItem is immutable; use item.evolve({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("MemoryItem is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (str(self), self.metadata()))

    @property
    def text(self) -> str:
        """The text as a plain ``str``."""
        return str.__str__(self)

    def metadata(self) -> dict[str, Any]:
        """Every metadata attribute that is set, by attribute name."""
        return {f: v for f in FIELDS.values() if (v := self.__dict__[f]) is not None}

    def evolve(self, text: str | None = None, **changes: Any) -> MemoryItem:
        """A copy with ``text`` and the named attributes changed (``None`` unsets one).

        Raises:
            ConfigurationError: an unknown attribute name, or an invalid value.
        """
        unknown = sorted(set(changes) - set(FIELDS.values()))
        if unknown:
            raise ConfigurationError(
                f"unknown MemoryItem attribute {unknown[0]!r}; known: {', '.join(FIELDS.values())}"
            )
        copy = MemoryItem(self.text if text is None else text, **{**self.metadata(), **changes})
        if text is None:  # the same text: what was read of it (dedupe's words) still holds
            copy.__dict__.update({k: v for k, v in self.__dict__.items() if k in _DERIVED})
        return copy

    def record(self) -> dict[str, Any]:
        """``{"text": text, **metadata()}``: JSON data once datetimes are tagged, as the
        archive stores them (:func:`~ctxbudget.memory.to_json_data`)."""
        return {"text": self.text, **self.metadata()}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> MemoryItem:
        """The item a :meth:`record` describes, times as datetimes or ISO 8601 text (as read
        back from JSON).

        Raises:
            ConfigurationError: the record has no str ``text``, an unknown key or a bad value.
        """
        if not isinstance(record, Mapping) or not isinstance(record.get("text"), str):
            raise ConfigurationError(f"an item record needs a str 'text', got {record!r}")
        meta = {k: v for k, v in record.items() if k != "text"}
        unknown = sorted(set(meta) - set(FIELDS.values()))
        if unknown:
            raise ConfigurationError(f"unknown MemoryItem attribute {unknown[0]!r} in a record")
        return cls(record["text"], **_fields(meta, "item record"))

    def marker(self) -> str:
        """The metadata as a marker (``<!-- ctx: kind=doc tokens=12 -->``), ``""`` if none."""
        short = {v: k for k, v in FIELDS.items()}
        parts = [
            f"{short[f]}={v.isoformat() if isinstance(v, datetime) else v}"
            for f, v in self.metadata().items()
        ]
        return f"<!-- ctx: {' '.join(parts)} -->" if parts else ""

    def __repr__(self) -> str:
        meta = "".join(f", {f}={v!r}" for f, v in self.metadata().items())
        return f"MemoryItem({self.text!r}{meta})"


def _restore(text: str, metadata: dict[str, Any]) -> MemoryItem:
    return MemoryItem(text, **metadata)


def _value(field: str, raw: Any, where: str) -> Any:
    """A marker or front-matter value converted for ``field``; ConfigurationError at ``where``."""
    try:
        if field in _TIMES and isinstance(raw, str):
            try:
                raw = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise ConfigurationError(f"{raw!r} is not an ISO 8601 time") from None
            if raw.utcoffset() is None:
                raise ConfigurationError(f"{raw.isoformat()!r} has no time zone: add Z or +00:00")
        elif field == "tokens" and isinstance(raw, str):
            if not raw.isdigit():
                raise ConfigurationError(f"tokens must be a whole number, got {raw!r}")
            raw = int(raw)
        return _check(field, raw)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {field}: {exc}") from None


def _fields(pairs: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in pairs.items():
        field = _KEYS.get(key) if isinstance(key, str) else None
        if field is None:
            raise ConfigurationError(
                f"{where}: unknown item metadata key {key!r}; known: {', '.join(FIELDS)}"
            )
        out[field] = _value(field, raw, where)
    return out


def parse_items(
    text: str,
    *,
    source: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    first_line: int = 1,
) -> list[MemoryItem]:
    """One :class:`MemoryItem` per non-blank line of ``text``, with its marker's metadata.

    A line may end with ``<!-- ctx: key=value ... -->`` (module docstring: the keys and value
    forms); the marker and the spaces before it are stripped from the item's text. A line's
    metadata starts from ``defaults`` (the same keys, values as text, or datetimes and ints as
    YAML gives them) and its marker's keys win. ``source`` names the file in messages and is
    every item's ``source`` unless a default or the marker sets one. ``first_line`` is the
    line number of the text's first line in its file (after front matter), for messages.

    Returns:
        The items, in line order (oldest first, as stores return them).

    Raises:
        ConfigurationError: an unknown key, a pair without ``=``, a key given twice, a bad
            value (a time without a time zone, a negative token count...) or a marker with no
            text before it; the message names the file, the 1-based line and the value.

    >>> parse_items("keep <!-- ctx: kind=doc tokens=1 -->\\n\\nplain")
    [MemoryItem('keep', kind='doc', tokens=1), MemoryItem('plain')]
    """
    where_file = source or "<text>"
    base = _fields(defaults or {}, f"{where_file}: item_defaults")
    if source is not None and "source" not in base:
        base["source"] = _check("source", source)
    items: list[MemoryItem] = []
    for number, line in enumerate(text.splitlines(), start=first_line):
        if not line.strip():
            continue
        meta = dict(base)
        marker = _marker(line)
        where = f"{where_file}:{number}"
        if marker:
            pairs: dict[str, str] = {}
            for pair in marker[1].split():
                key, eq, raw = pair.partition("=")
                if not eq or not raw:
                    raise ConfigurationError(f"{where}: marker pair {pair!r} is not key=value")
                if key in pairs:
                    raise ConfigurationError(f"{where}: marker key {key!r} given twice")
                pairs[key] = raw
            meta.update(_fields(pairs, where))
        body = line[: marker[0]] if marker else line
        if not body.strip():
            raise ConfigurationError(f"{where}: a ctx marker needs text before it")
        items.append(MemoryItem(body, **meta))
    return items
