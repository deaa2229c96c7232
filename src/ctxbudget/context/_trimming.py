"""Trimming: keeping whole items within each allocation, and verifying the exact count.

- :func:`trim` keeps, per section (lowest priority first), the most items from its kept end that
  fit its allocation, cutting a lone oversized item at token level (:func:`cut_item`);
- :func:`grow` gives tokens left over to the highest priorities first;
- :func:`verify` trims further, by bisection on exact counts, when BPE merges at joins make the
  assembled text exceed the cap (a cut item is first cut again smaller);
- :func:`top_up` fills what the piece-by-piece estimates left, checked with exact counts.

``assemble(parts)`` renders the kept parts and returns ``(text, exact tokens)``.
"""

from __future__ import annotations

from collections.abc import Callable

from .._errors import RequiredSectionsExceedCap
from ..tokenizers._cutting import fit_length
from ..typing import Tokenizer
from ._allocation import Strategy
from ._measure import Cut
from ._options import Keep
from ._parts import Part

__all__ = ["cut_item", "grow", "keep_fitting", "top_up", "trim", "verify"]

#: How far, in tokens, an item's estimate may exceed the exact room and still be tried.
TOP_UP_TOLERANCE = 2

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
    first); a cut item is first cut again smaller (by the overshoot, then twice, four times
    that...), so a token or two over the cap never costs a whole cut section. The fewest steps
    that fit are found by bisection on exact counts, starting from the steps whose measured
    tokens cover the overshoot, so a few renders suffice.

    Raises:
        RequiredSectionsExceedCap: the required sections alone still exceed the cap.
    """
    if tokens <= cap:
        return text, tokens
    over = tokens - cap
    steps: list[tuple[Part, int, Callable[[], Cut | None] | None]] = []  # (part, kept, cut)
    for p in reversed(live):
        if p.required:
            continue
        if p.cut is not None:
            steps += [(p, 0, smaller) for smaller in _smaller_cuts(p.cut, over)]
            steps.append((p, 0, None))
        else:
            steps += [(p, k, None) for k in range(p.kept - 1, -1, -1)]
    original = {id(p): (p.kept, p.cut) for p in live}

    def take(step: tuple[Part, int, Callable[[], Cut | None] | None]) -> None:
        p, kept, cut = step
        p.kept, p.cut = kept, cut() if cut is not None else None

    def apply(removed: int) -> tuple[str, int]:
        for p in live:
            p.kept, p.cut = original[id(p)]
        for step in steps[:removed]:
            take(step)
        return assemble(live)

    guess, freed = 0, 0
    for step in steps:
        if freed >= over:
            break
        before = step[0].used
        take(step)
        freed += before - step[0].used
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


def _smaller_cuts(cut: Cut, over: int) -> list[Callable[[], Cut | None]]:
    """Makers of ``cut`` remade ``over``, ``2 * over``, ``4 * over``... tokens smaller, each
    made at most once (verify's bisection may apply a step several times)."""
    recut = cut.recut
    if recut is None:
        return []
    makers: list[Callable[[], Cut | None]] = []
    less = max(over, 1)
    while less < cut.tokens:
        made: dict[int, Cut | None] = {}

        def make(room: int = cut.tokens - less, made: dict[int, Cut | None] = made) -> Cut | None:
            if room not in made:
                made[room] = recut(room)
            return made[room]

        makers.append(make)
        less *= 2
    return makers


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

    Work is bounded by ``room``, not by the item's length (a window at the kept end is encoded,
    or, for a count-only tokenizer, counts of about ``room`` tokens bisect): see
    :func:`ctxbudget.tokenizers._cutting.fit_length`, the one cutting rule. The cut can be
    made again for a smaller room (:attr:`Cut.recut`), which :func:`verify` uses when joins
    push the assembled text over the cap.
    """
    length, tokens = fit_length(item, room, tokenizer=tokenizer, keep=keep, marker=marker)
    if length == 0:
        return None
    n = len(item)
    kept = item[n - length :] if keep == "end" else item[:length]
    removed = item[: n - length] if keep == "end" else item[length:]

    def recut(smaller: int) -> Cut | None:
        return cut_item(item, smaller, keep=keep, marker=marker, tokenizer=tokenizer)

    return Cut(kept=kept, removed=removed, tokens=tokens, recut=recut)
