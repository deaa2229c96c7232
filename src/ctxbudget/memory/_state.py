"""The running summary as a structured state: five parts of plain lines, deduplicated, budgeted.

Wrapping the old summary as one more item (``"summary: ..."``) nested prefixes and let
repeated lines crowd out one-off facts; this keeps the summary as data. Parts, in render order:

==============  =================================  =====  ==========
part            holds                              share  drop order
==============  =================================  =====  ==========
``facts``       user facts and preferences         35 %   5th (last)
``decisions``   decisions taken                    20 %   4th
``tasks``       open tasks and questions           15 %   3rd
``entities``    names, identifiers, files          10 %   2nd
``narrative``   what happened, oldest first        20 %   1st
==============  =================================  =====  ==========

Every line is stored whitespace-collapsed, on one line, with at most one attribution: a chain
of ``summary:`` and speaker prefixes (``"summary: summary: user: ..."``) is cut to its last
speaker (``"user: ..."``), and ``summary:`` alone is dropped; nesting cannot happen.

Lines are deduplicated on construction: two lines are the same when they are equal after
casefolding and dropping punctuation, attribution and extra whitespace, or when their word sets
have a Jaccard similarity of at least :data:`NEAR_DUPLICATE` (0.8). The **older** line is kept
(the earlier one within a part; across parts, the one in the part that renders first), so a
fact keeps its place and its wording through many merges.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import ConfigurationError
from .._validate import whole_number
from ..tokenizers import get_tokenizer
from ._facts import (
    FACT_CUE,
    IDENTIFIER,
    SPECIFIC,
    part_of,
    specificity,
    strip_prefixes,
)
from ._jaccard import JaccardIndex

__all__ = [
    "DROP_ORDER",
    "FACT_CUE",
    "HEADERS",
    "IDENTIFIER",
    "NEAR_DUPLICATE",
    "PARTS",
    "SHARES",
    "SPECIFIC",
    "SummaryState",
    "clean_line",
    "line_key",
    "part_of",
    "specificity",
    "strip_prefixes",
]

#: The parts, in render order.
PARTS = ("facts", "decisions", "tasks", "entities", "narrative")
#: The header line each part renders under.
HEADERS = {
    "facts": "User facts and preferences:",
    "decisions": "Decisions:",
    "tasks": "Open tasks and questions:",
    "entities": "Names and identifiers:",
    "narrative": "What happened (oldest first):",
}
#: Default share of the token budget per part; a part that needs less gives the rest away.
SHARES = {"facts": 0.35, "decisions": 0.20, "tasks": 0.15, "entities": 0.10, "narrative": 0.20}
#: Which part loses lines first when the parts together are still over the budget.
DROP_ORDER = ("narrative", "entities", "tasks", "decisions", "facts")
#: Word-set Jaccard similarity at or above which two lines are one.
NEAR_DUPLICATE = 0.8

_ALIASES = {
    "facts": ("facts", "user facts", "user facts and preferences", "preferences"),
    "decisions": ("decisions", "decisions taken"),
    "tasks": ("tasks", "open tasks", "open questions", "open tasks and questions", "todo"),
    "entities": ("entities", "names", "names and identifiers", "identifiers"),
    "narrative": ("narrative", "what happened", "what happened (oldest first)", "summary"),
}
_HEADER_OF = {alias: part for part, names in _ALIASES.items() for alias in names}
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+")
_NOT_WORD = re.compile(r"[\W_]+")


#: First-person cues of a user fact or preference (``my name is``, ``I live``, ``allergic``...).
def clean_line(line: str) -> str:
    """``line`` on one line, whitespace collapsed, with at most one attribution."""
    speaker, text = strip_prefixes(" ".join(line.split()))
    return f"{speaker}: {text}" if speaker and text else text


def line_key(line: str) -> str:
    """The form two lines are compared in: no attribution, casefolded, words only."""
    return " ".join(_NOT_WORD.sub(" ", strip_prefixes(line)[1].casefold()).split())


@dataclass(frozen=True, kw_only=True)
class SummaryState:
    """A running summary: five tuples of lines (each a ``str`` without a line break).

    Lines are cleaned and deduplicated on construction (see the module docs), so two states
    with the same lines in the same parts are equal.

    >>> state = SummaryState(facts=("My name is Priya", "my name is Priya!"))
    >>> state.facts
    ('My name is Priya',)
    >>> print(state.render())
    User facts and preferences:
    - My name is Priya
    """

    facts: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    narrative: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parts = {p: [clean_line(x) for x in getattr(self, p)] for p in PARTS}
        flat = [(p, x) for p in PARTS for x in parts[p] if x]
        sets = [frozenset(line_key(x).split()) for _, x in flat]
        index = JaccardIndex(sets, NEAR_DUPLICATE)
        seen: set[str] = set()
        kept: dict[str, list[str]] = {p: [] for p in PARTS}
        for i, (part, line) in enumerate(flat):
            key = line_key(line) or line
            if key not in seen and index.add_unless_similar(i):
                kept[part].append(line)
            seen.add(key)
        for part in PARTS:
            object.__setattr__(self, part, tuple(kept[part]))

    # -- text -----------------------------------------------------------------------------

    def lines(self) -> tuple[str, ...]:
        """Every line, part after part in render order, without headers or bullets."""
        return tuple(x for p in PARTS for x in getattr(self, p))

    def render(self) -> str:
        """The summary as text: per non-empty part its header, then ``- line`` lines; parts
        separated by a blank line; ``""`` when every part is empty. Deterministic."""
        blocks = [
            "\n".join([HEADERS[p], *(f"- {x}" for x in getattr(self, p))])
            for p in PARTS
            if getattr(self, p)
        ]
        return "\n\n".join(blocks)

    @classmethod
    def parse(cls, text: str) -> SummaryState:
        """The state a text describes: the inverse of :meth:`render` for rendered text.

        Headers are recognised leniently (``## Decisions``, ``**Open tasks:**``, any case);
        a line under a header belongs to that part, with its bullet removed. Any other text
        (an LLM's free-form answer, a plain summary from an old checkpoint) becomes
        ``narrative`` lines, one per non-empty line.

        Raises:
            ConfigurationError: ``text`` is not a ``str``.
        """
        if not isinstance(text, str):
            raise ConfigurationError(f"a summary must be str, got {type(text).__name__}")
        parts: dict[str, list[str]] = {p: [] for p in PARTS}
        part = "narrative"
        for raw in text.splitlines():
            line = raw.strip()
            if not line:
                continue
            header = line.strip("#*_ \t").rstrip(":*_ ").strip().casefold()
            if header in _HEADER_OF and (line.endswith(":") or line.startswith(("#", "**"))):
                part = _HEADER_OF[header]
                continue
            parts[part].append(_BULLET.sub("", line, count=1))
        return cls(**{p: tuple(v) for p, v in parts.items()})

    # -- checkpoints ----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data: ``{"version": 1, "facts": [str, ...], ...}`` (every part)."""
        return {"version": 1, **{p: list(getattr(self, p)) for p in PARTS}}

    @classmethod
    def from_json(cls, data: Any) -> SummaryState:
        """The state :meth:`to_json` wrote; missing parts are empty.

        Raises:
            ConfigurationError: ``data`` is not a mapping, has an unknown key, a ``version``
                other than 1, or a part that is not a list of ``str`` (the key is named).
        """
        if not isinstance(data, Mapping):
            raise ConfigurationError(
                f"summary state data must be a mapping, got {type(data).__name__}"
            )
        for key, value in data.items():
            if key == "version":
                if value != 1:
                    raise ConfigurationError(f"summary state 'version' must be 1, got {value!r}")
            elif key not in PARTS:
                raise ConfigurationError(
                    f"unknown summary state key {key!r}: expected one of {', '.join(PARTS)}"
                )
            elif not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise ConfigurationError(
                    f"summary state key {key!r} must be a list of str, got {value!r:.60}"
                )
        return cls(**{p: tuple(data.get(p, ())) for p in PARTS})

    # -- the budget -----------------------------------------------------------------------

    def fit(
        self,
        max_tokens: int,
        tokenizer: Any = "o200k_base",
        *,
        rank: Callable[[str, str], float] | None = None,
        shares: Mapping[str, float] = SHARES,
    ) -> SummaryState:
        """The state cut so that ``render()`` has at most ``max_tokens`` tokens (exact count).

        Lines are kept whole or dropped. Each part first gets its share of ``max_tokens``
        (:data:`SHARES`); a part that needs less than its share gives the rest to the others,
        in proportion to their shares. Within a part the lines dropped first are the oldest
        (narrative) or the lowest ranked (ties: the oldest; the default rank is
        :func:`specificity`). Room left is then refilled in render order (facts first), and if the
        exact count is still over the limit, lines go in :data:`DROP_ORDER`: narrative,
        entities, tasks, decisions, and facts last. Kept lines keep their order.

        Args:
            max_tokens: the limit of the rendered text, in tokens.
            tokenizer: a tokenizer spec or object.
            rank: ``(part, line) -> score``, higher kept first (default: the line's
                :func:`specificity`).
            shares: part -> share of the budget (non-negative; missing parts get 0).

        Raises:
            ConfigurationError: ``max_tokens`` is not a whole number >= 0, or a share is
                negative or not a number.
        """
        limit = whole_number(max_tokens, "max_tokens", unit="tokens")
        for part, share in shares.items():
            if isinstance(share, bool) or not isinstance(share, int | float) or not share >= 0:
                raise ConfigurationError(f"share of {part!r} must be a number >= 0, got {share!r}")
        count = get_tokenizer(tokenizer).count
        if count(self.render()) <= limit:
            return self
        order = {p: _keep_order(p, getattr(self, p), rank) for p in PARTS}
        cost = {p: [count(f"- {x}") + 1 for x in getattr(self, p)] for p in PARTS}
        head = {p: count(HEADERS[p]) + 2 for p in PARTS}
        allot = _allot({p: head[p] + sum(cost[p]) for p in PARTS if cost[p]}, shares, limit - 1)
        chosen: dict[str, set[int]] = {p: set() for p in PARTS}
        used = 0
        for part, room in allot.items():
            spent = head[part]
            for i in order[part]:
                if spent + cost[part][i] <= room:
                    chosen[part].add(i)
                    spent += cost[part][i]
            used += spent if chosen[part] else 0
        for part in PARTS:  # refill what the shares left unused, facts first
            for i in order[part]:
                extra = cost[part][i] + (0 if chosen[part] else head[part])
                if i not in chosen[part] and used + extra <= limit:
                    chosen[part].add(i)
                    used += extra
        state = self._pick(chosen)
        while count(state.render()) > limit:  # joins are not additive: drop in DROP_ORDER
            part = next(p for p in DROP_ORDER if chosen[p])
            worst = next(i for i in reversed(order[part]) if i in chosen[part])
            chosen[part].discard(worst)
            state = self._pick(chosen)
        for part in PARTS:  # estimates err high: try the best few left out, counted exactly
            for i in [i for i in order[part] if i not in chosen[part]][:4]:
                chosen[part].add(i)
                if count((candidate := self._pick(chosen)).render()) <= limit:
                    state = candidate
                else:
                    chosen[part].discard(i)
        return state

    def _pick(self, chosen: Mapping[str, set[int]]) -> SummaryState:
        return SummaryState(
            **{p: tuple(x for i, x in enumerate(getattr(self, p)) if i in chosen[p]) for p in PARTS}
        )


def _keep_order(
    part: str, lines: Sequence[str], rank: Callable[[str, str], float] | None
) -> list[int]:
    """Indexes of ``lines``, the one to keep first first."""
    newest_first = list(range(len(lines) - 1, -1, -1))
    if part == "narrative":
        return newest_first
    score = rank or (lambda _, line: specificity(line))
    return sorted(newest_first, key=lambda i: -score(part, lines[i]))


def _allot(demand: Mapping[str, int], shares: Mapping[str, float], limit: int) -> dict[str, int]:
    """Tokens per part: each part its share of ``limit``, what a part does not need flowing to
    the parts that need more, in proportion to their shares (water filling)."""
    allot: dict[str, int] = {}
    open_parts = [p for p in PARTS if p in demand]
    pool = max(0, limit)
    while open_parts:
        total = sum(shares.get(p, 0.0) for p in open_parts)
        fair = {
            p: pool * shares.get(p, 0.0) / total if total > 0 else pool / len(open_parts)
            for p in open_parts
        }
        satisfied = [p for p in open_parts if demand[p] <= fair[p]]
        if not satisfied:
            allot.update({p: int(fair[p]) for p in open_parts})
            break
        for part in satisfied:
            allot[part] = demand[part]
            pool -= demand[part]
            open_parts.remove(part)
    return allot
