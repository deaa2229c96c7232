"""Message formats: how each provider's chat history is read, costed and kept whole.

A :class:`MessageFormat` answers, for one message of its format: its role, its cost in tokens
(overhead included), whether that cost holds estimates, the tool calls it makes and the calls
it answers, and whether it must stay with the message before it (a tool result with its call,
a reasoning item with the call it led to). :func:`~ctxbudget.fit_messages`,
:func:`~ctxbudget.count_prompt`, :func:`~ctxbudget.repair_messages` and
:func:`~ctxbudget.history_items` work on any format through these answers, so one rule serves
OpenAI chat, OpenAI Responses, Anthropic Messages, Gemini and LangChain messages.

Formats whose provider publishes no overhead rule count their content with the given tokenizer
plus a documented per-message estimate, and report ``estimated=True``; see each format's
module for its rule and source.
"""

from __future__ import annotations

import bisect
import json
import operator
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from .._errors import ConfigurationError
from ..typing import Tokenizer

__all__ = [
    "FORMATS",
    "MessageFormat",
    "as_text",
    "detect_format",
    "get_format",
    "json_cost",
    "json_text",
]

#: How many messages, newest first, format detection looks at before settling on ``openai``.
DETECT_LIMIT = 2000


class MessageFormat(ABC):
    """One provider's message shape. Subclasses are stateless singletons in :data:`FORMATS`."""

    name: ClassVar[str]
    #: Tokens added once per prompt (the reply priming), in tokens.
    priming: ClassVar[int] = 0
    #: Whether the provider publishes the overhead rule this format applies.
    exact: ClassVar[bool] = False

    @abstractmethod
    def check(self, message: Any, index: int) -> None:
        """Raise :class:`~ctxbudget.ConfigurationError` naming ``index`` unless ``message`` has
        this format's shape."""

    @abstractmethod
    def role(self, message: Any) -> str:
        """``"system"``, ``"user"``, ``"assistant"``, ``"tool"`` (a message that only carries
        tool results) or ``"other"`` (e.g. a reasoning item)."""

    @abstractmethod
    def cost(self, message: Any, tok: Tokenizer) -> int:
        """Tokens of the message, its overhead included."""

    def estimated(self, message: Any) -> bool:
        """Whether :meth:`cost` holds estimates (always, for formats without a published rule)."""
        return not self.exact

    def calls(self, message: Any) -> tuple[str, ...]:
        """Ids of the tool calls the message makes."""
        return ()

    def answers(self, message: Any) -> tuple[str, ...]:
        """Ids of the tool calls the message answers."""
        return ()

    def links_back(self, message: Any, previous: Any) -> bool:
        """Whether ``message`` must be kept or dropped with ``previous`` (the message before
        it): by default, a message answering calls stays with what comes before it."""
        return bool(self.answers(message))

    @abstractmethod
    def text(self, message: Any) -> str:
        """The message as one line of text (for history sections and summaries)."""

    @abstractmethod
    def looks_like(self, message: Any) -> bool | None:
        """``True`` if the message can only be this format, ``None`` if it may be."""

    def roles(self, messages: Sequence[Any]) -> Roles:
        """:meth:`role` of every message, each checked first, as a :class:`Roles` (a tuple of
        str, one per message in order, with the set of roles present). Formats override it
        with a faster pass that still raises on a malformed message; an override may return
        any sequence of str (finding a role in it is then a scan).

        Raises:
            ConfigurationError: a message is malformed for this format (its position named).
        """
        out = []
        for i, m in enumerate(messages):
            self.check(m, i)
            out.append(self.role(m))
        return Roles(out)

    def unit_starts(self, messages: Sequence[Any]) -> Sequence[int]:
        """Index of the first message of each unit, oldest first, system messages left out
        (a unit ends before a system message). Formats override it with a faster pass."""
        starts = []
        previous_system = True
        for i, m in enumerate(messages):
            system = self.role(m) == "system"
            if not system and (previous_system or not self.links_back(m, messages[i - 1])):
                starts.append(i)
            previous_system = system
        return starts

    def without_answers(self, message: Any, ids: set[str]) -> Any | None:
        """A copy of ``message`` without its answers to ``ids`` (``None``: nothing left)."""
        return None

    def without_calls(self, message: Any, ids: set[str]) -> Any | None:
        """A copy of ``message`` without its calls ``ids`` (``None``: nothing left)."""
        return None


class Roles(tuple[str, ...]):
    """The role of each message of a history, by position, and the set of roles present
    (``present``), so asking where a role that is not there sits costs nothing: a plain chat
    history of 48k messages has no system or tool message, and each scan for one read every
    role (0.35 ms a scan). A tuple, so ``present`` can never go stale."""

    present: frozenset[str]

    def __new__(cls, roles: Iterable[str]) -> Roles:
        self = super().__new__(cls, roles)
        self.present = frozenset(self)
        return self


def indices(values: Sequence[str], value: str) -> list[int]:
    """Positions of ``value`` in ``values`` (found by ``index``, at C speed; none at all
    when ``values`` is a :class:`Roles` without ``value``)."""
    if isinstance(values, Roles) and value not in values.present:
        return []
    out: list[int] = []
    i = -1
    try:
        while True:
            i = values.index(value, i + 1)
            out.append(i)
    except ValueError:
        return out


class Complement(Sequence[int]):
    """``range(n)`` without the sorted positions ``skip``, indexed in O(log len(skip))."""

    def __init__(self, n: int, skip: list[int]) -> None:
        self._n = n
        self._skip = skip
        # offsets[j]: how many kept positions come before skip[j] (non-decreasing)
        self._offsets = [s - j for j, s in enumerate(skip)]

    def __len__(self) -> int:
        return self._n - len(self._skip)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        n = len(self)
        if not -n <= k < n:
            raise IndexError(k)
        k %= n
        return k + bisect.bisect_right(self._offsets, k)


def as_text(value: Any) -> str:
    """Text of a content value: a string, a list of text blocks, or JSON of anything else."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return json_text(value)


def json_cost(value: Any, tok: Tokenizer) -> int:
    """Tokens of a JSON value counted piece by piece: each string (key or value) is counted
    alone, so the total is at least the tokens of every string in it, plus one token per
    delimiter (quotes, colon, comma, brackets)."""
    if isinstance(value, str):
        return tok.count(value) + 1
    if isinstance(value, Mapping):
        return 1 + sum(tok.count(str(k)) + 2 + json_cost(v, tok) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 1 + sum(json_cost(v, tok) + 1 for v in value)
    return tok.count(json_text(value))


def json_text(value: Any) -> str:
    """``value`` as compact JSON text (a string stays as it is)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return str(value)


FORMATS: dict[str, MessageFormat] = {}
_ORDER = ("openai", "responses", "anthropic", "gemini", "langchain")


def register(fmt: MessageFormat) -> MessageFormat:
    FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> MessageFormat:
    """The format named ``name``.

    Raises:
        ConfigurationError: unknown name (the message lists the known ones).
    """
    try:
        return FORMATS[name]
    except KeyError:
        known = [f for f in _ORDER if f in FORMATS] + sorted(set(FORMATS) - set(_ORDER))
        raise ConfigurationError(
            f"unknown message format {name!r}; formats: auto, {', '.join(known)}"
        ) from None


def detect_format(messages: Sequence[Any]) -> MessageFormat:
    """The format of ``messages``: the first format that claims one of them, looking at up to
    :data:`DETECT_LIMIT` messages from the newest; ``openai`` when none is claimed (plain
    ``role``/``content`` messages read the same in most formats)."""
    order = ("langchain", "responses", "gemini", "anthropic", "openai")
    window = list(messages[-DETECT_LIMIT:])
    if _all_plain(window):
        return FORMATS["openai"]
    for message in window[::-1]:
        if _plain(message):
            continue  # {"role": "user" | "assistant" | "system", "content": str}: any format
        for name in order:
            if FORMATS[name].looks_like(message):
                return FORMATS[name]
    return FORMATS["openai"]


_ROLE = operator.itemgetter("role")
_CONTENT = operator.itemgetter("content")


def _all_plain(messages: list[Any]) -> bool:
    """Whether every message is :func:`_plain`, in a few passes at C speed (the common case
    of a plain chat history; ``False`` sends the caller to the one-by-one look)."""
    try:
        return (
            set(map(type, messages)) <= {dict}
            and set(map(len, messages)) <= {2}
            and set(map(_ROLE, messages)) <= {"user", "assistant", "system"}
            and set(map(type, map(_CONTENT, messages))) <= {str}
        )
    except (KeyError, TypeError):  # a message without "role" or "content", or unhashable
        return False


def _plain(message: Any) -> bool:
    return (
        type(message) is dict
        and len(message) == 2
        and type(message.get("content")) is str
        and message.get("role") in ("user", "assistant", "system")
    )


def resolve_format(messages: Sequence[Any], format: str | MessageFormat) -> MessageFormat:
    """``format`` as a :class:`MessageFormat` (``"auto"`` detects it)."""
    if isinstance(format, MessageFormat):
        return format
    if format == "auto":
        return detect_format(messages)
    return get_format(format)
