"""Trimming: keeping whole items within each allocation, and verifying the exact count.

- :func:`trim` keeps, per section (lowest priority first), the most items from its kept end that
  fit its allocation, cutting a lone oversized item at token level (:func:`cut_item`);
- :func:`grow` gives tokens left over to the highest priorities first;
- :func:`verify` trims further, by bisection on exact counts, when BPE merges at joins make the
  assembled text exceed the cap;
- :func:`top_up` fills what the piece-by-piece estimates left, checked with exact counts.

``assemble(parts)`` renders the kept parts and returns ``(text, exact tokens)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .._errors import RequiredSectionsExceedCap
from ..typing import Tokenizer
from ._allocation import Strategy
from ._measure import Cut
from ._options import Keep
from ._parts import Part

__all__ = ["cut_item", "grow", "keep_fitting", "top_up", "trim", "verify"]

#: How far, in tokens, an item's estimate may exceed the exact room and still be tried.
TOP_UP_TOLERANCE = 2
#: Characters at an item's kept end sampled for its characters per token (:func:`cut_item`).
_SAMPLE_CHARS = 256
#: How much wider than the sample's estimate of ``room`` tokens the first window is.
_WINDOW_MARGIN = 1.1
#: Tokens short of (past) the room at which a cut is taken to fit (not to) without a count.
_MARGIN = 2

Assemble = Callable[[list[Part]], tuple[str, int]]


def keep_fitting(p: Part, room: float) -> None:
    """Keep the most measured items from the kept end that fit ``room`` tokens."""
    m = p.m
    p.kept = m.fitting(int(min(room, m.total)))
    p.cut = None


def trim(live: list[Part], *, tokenizer: Tokenizer, marker: str, min_cut_tokens: int) -> None:
    """Keep whole items within each allocation; cut a lone item that does not fit whole when
    at least ``min_cut_tokens`` tokens of room are left for it."""
    for p in reversed(live):  # lowest priority first
        room = p.allocated - p.header
        keep_fitting(p, room)
        if p.kept == 0 and room >= min_cut_tokens:
            p.cut = cut_item(p.m.item(0), room, keep=p.m.keep, marker=marker, tokenizer=tokenizer)


def grow(
    live: list[Part],
    room: int,
    strategy: Strategy,
    blocked: frozenset[str] | set[str] = frozenset(),
) -> list[Part]:
    """Add next whole items in priority order while their estimates fit ``room`` tokens.

    ``weighted`` lets a lower priority take the room when a higher one's next item is too
    large for it; ``strict`` stops at the first section that cannot grow, so a lower
    priority never keeps an item that a higher one was denied. Sections in ``blocked`` do
    not grow. Returns the sections grown, once per item added, in the order added.
    """
    added: list[Part] = []
    for p in live:
        m = p.m
        if p.cut is not None or p.name in blocked:
            if strategy == "strict":
                break
            continue
        while not p.required and room > 0 and m.measure_items(p.kept + 1):
            if m.is_lower_bound(p.kept):  # larger than the cap: never kept whole
                break
            step = m.cumulative[p.kept + 1] - m.cumulative[p.kept]
            if p.kept == 0:
                step += p.header
            within_max = p.max_tokens is None or p.used + step <= p.max_tokens
            if step > room or not within_max:
                break
            p.kept += 1
            room -= step
            added.append(p)
        if strategy == "strict" and not (m.complete and p.kept == m.measured):
            break
    return added


def top_up(
    live: list[Part],
    text: str,
    tokens: int,
    cap: int,
    *,
    assemble: Assemble,
    strategy: Strategy,
) -> tuple[str, int]:
    """Fill the room the estimates left, checked with exact counts.

    Piece-by-piece estimates may exceed the joined text's count by a token or two (a gap
    charged to the last kept item, separators spread over sections). Next items are added
    in refill order against the exact room plus ``TOP_UP_TOLERANCE``, all at once, and
    counted once; if that goes over the cap, the most of those additions that fit is found by
    bisection, and the section whose item did not fit takes no part in the next round. Only
    top-up's own additions are undone, so it never takes anything the build had already kept.
    At most three rounds.
    """
    blocked: set[str] = set()
    for _ in range(3):
        before = [p.kept for p in live]
        room = cap - tokens + TOP_UP_TOLERANCE
        added = grow(live, room, strategy, blocked=blocked)
        if not added:
            break

        def keep_first(n: int, before: list[int] = before, added: list[Part] = added) -> None:
            for p, kept in zip(live, before, strict=True):
                p.kept = kept
            for p in added[:n]:
                p.kept += 1

        new_text, new_tokens = assemble(live)
        if new_tokens <= cap:
            text, tokens = new_text, new_tokens
            continue
        fits, over = 0, len(added)
        while over - fits > 1:
            mid = (fits + over) // 2
            keep_first(mid)
            mid_text, mid_tokens = assemble(live)
            if mid_tokens <= cap:
                fits, text, tokens = mid, mid_text, mid_tokens
            else:
                over = mid
        keep_first(fits)
        blocked.add(added[fits].name)
    return text, tokens


def verify(
    live: list[Part], text: str, tokens: int, cap: int, *, assemble: Assemble
) -> tuple[str, int]:
    """Counts are not additive across joins: trim further until the exact count fits.

    Items come off in trimming order (lowest priority first, farthest from the kept end
    first). The fewest removals that fit are found by bisection on exact counts, starting
    from the removals whose measured tokens cover the overshoot, so a few renders suffice.

    Raises:
        RequiredSectionsExceedCap: the required sections alone still exceed the cap.
    """
    if tokens <= cap:
        return text, tokens
    steps: list[tuple[Part, int]] = []  # (part, items kept after this step)
    for p in reversed(live):
        if p.required:
            continue
        if p.cut is not None:
            steps.append((p, -1))
        else:
            steps += [(p, k) for k in range(p.kept - 1, -1, -1)]
    original = {id(p): (p.kept, p.cut) for p in live}

    def apply(removed: int) -> tuple[str, int]:
        for p in live:
            p.kept, p.cut = original[id(p)]
        for p, k in steps[:removed]:
            p.kept, p.cut = max(k, 0), None
        return assemble(live)

    over = tokens - cap
    guess, freed = 0, 0
    for p, k in steps:
        if freed >= over:
            break
        before = p.used
        p.kept, p.cut = max(k, 0), None
        freed += before - p.used
        guess += 1
    bad, good = 0, None
    probe = max(guess, 1)
    while good is None:
        if probe > len(steps):
            text, tokens = apply(len(steps))
            if tokens > cap:
                raise RequiredSectionsExceedCap(
                    needed=tokens, cap=cap, sections=[p.name for p in live if p.required]
                )
            good = len(steps)
            break
        if apply(probe)[1] <= cap:
            good = probe
        else:
            bad, probe = probe, probe * 2
    while good - bad > 1:
        mid = (bad + good) // 2
        if apply(mid)[1] <= cap:
            good = mid
        else:
            bad = mid
    return apply(good)


def cut_item(
    item: str,
    room: int,
    *,
    keep: Keep,
    marker: str,
    tokenizer: Tokenizer,
) -> Cut | None:
    """Cut ``item`` so that marker plus kept part fit in ``room`` tokens, at a character boundary.

    The kept part is the end of the item for ``keep="end"`` (the marker goes before it), else
    the start (the marker goes after it). It is checked by exact counts: marker plus kept part
    cost at most ``room`` tokens, and one more character would cost more (or the whole item
    is kept). Returns ``None`` when not even one character fits.

    Work is bounded by ``room``, not by the item's length, so a 10 MB line costs about what a
    ``room``-token one does. Only a window at the kept end is encoded, sized from a sample's
    characters per token and doubled until it holds more than ``room`` tokens; its last (or
    first) ``room`` token ids, decoded, give the first guess of the bisection on whole
    characters that earlier versions ran over the whole item. The bisection is the same, so
    are its cuts (where BPE counts dip as text grows, its path decides which of two fitting
    cuts it finds), but it counts only near the guess: a length that the window's ids put
    ``_MARGIN`` tokens or more short of the room is taken to fit, one they put as far past
    it not to. The cut is then checked by exact counts, and searched for again by exact
    counts alone should an assumption have been wrong.
    """
    n = len(item)
    if n == 0 or room < 1:
        return None
    end = keep == "end"

    def piece(length: int) -> str:
        return item[n - length :] if end else item[:length]

    costs: dict[int, int] = {}

    def fits(length: int) -> bool:
        if length not in costs:
            kept = piece(length)
            costs[length] = tokenizer.count(marker + kept if end else kept + marker)
        return costs[length] <= room

    sample = piece(min(n, _SAMPLE_CHARS))
    chars_per_token = len(sample) / max(1, tokenizer.count(sample))
    width = min(n, math.ceil(room * chars_per_token * _WINDOW_MARGIN) + _SAMPLE_CHARS)
    while True:
        ids = tokenizer.encode(piece(width))
        if len(ids) > room + _MARGIN or width == n:
            break
        width = min(n, 2 * width)

    def covered(k: int) -> int:
        """Characters of the window's last (first) ``k`` tokens."""
        return len(tokenizer.decode(ids[-k:] if end else ids[:k])) if k > 0 else 0

    spare = room - tokenizer.count(marker)
    surely_fits = covered(spare - _MARGIN)
    surely_over = covered(spare + _MARGIN) if len(ids) >= spare + _MARGIN else n + 1

    def probe(length: int) -> bool:
        if length <= surely_fits:
            return True
        if length >= surely_over:
            return False
        return fits(length)

    lo, hi = 0, min(n, covered(room) + 1)
    while probe(hi) and hi < n:
        lo, hi = hi, min(n, 2 * hi)
    if probe(hi):
        lo = hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if probe(mid):
            lo = mid
        else:
            hi = mid
    checked = fits(lo) and (lo == n or not fits(lo + 1)) if lo else not fits(1)
    if not checked:  # a length taken to fit, or not to, without a count was wrong
        lo = _settle(fits, n, min(n, max(1, covered(spare))))
    if lo == 0:
        return None
    removed = item[: n - lo] if end else item[lo:]
    return Cut(kept=piece(lo), removed=removed, tokens=costs[lo])


def _settle(fits: Callable[[int], bool], n: int, guess: int) -> int:
    """The length, found from ``guess`` by exact tests alone (galloping, then bisection), that
    fits while one more character does not (``n``: all fit; 0: none does)."""
    step = 1
    if fits(guess):
        lo, hi = guess, n + 1
        while lo < n:
            longer = min(n, lo + step)
            if not fits(longer):
                hi = longer
                break
            lo, step = longer, 2 * step
    else:
        lo, hi = 0, guess
        while hi > 1:
            shorter = max(1, hi - step)
            if fits(shorter):
                lo = shorter
                break
            hi, step = shorter, 2 * step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo
