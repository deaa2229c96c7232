"""Cutting text to a token budget at a character boundary: with token ids, or with counts alone.

:func:`fit_length` is the one cutting rule (the builder's token-level cut of an oversized item
and the summarizer's truncation both use it); :func:`truncate` is its public form.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from .._errors import ConfigurationError
from ..typing import EncodingTokenizer, Tokenizer
from ._counting import CachedTokenizer

__all__ = ["codec_of", "fit_length", "truncate"]

#: Characters at the kept end sampled for the text's characters per token.
_SAMPLE_CHARS = 256
#: How much wider than the sample's estimate of ``room`` tokens the first window is.
_WINDOW_MARGIN = 1.1
#: Tokens short of (past) the room at which a cut is taken to fit (not to) without a count.
_MARGIN = 2
#: Count-only: most proportional guesses before bisection takes over.
_GUESSES = 6

Keep = Literal["start", "end"]
Codec = tuple[Callable[[str], Sequence[int]], Callable[[Sequence[int]], str]]


def codec_of(tokenizer: Tokenizer) -> Codec | None:
    """``(encode, decode)`` of ``tokenizer`` (of the tokenizer a :class:`CachedTokenizer`
    wraps), or ``None`` for a count-only tokenizer."""
    inner = tokenizer.inner if isinstance(tokenizer, CachedTokenizer) else tokenizer
    if isinstance(inner, EncodingTokenizer):
        return inner.encode, inner.decode
    return None


def fit_length(
    text: str, room: int, *, tokenizer: Tokenizer, keep: Keep, marker: str = ""
) -> tuple[int, int]:
    """How many characters of ``text``, from its kept end, fit with ``marker`` in ``room`` tokens.

    The kept part is the end of the text for ``keep="end"`` (the marker goes before it), else
    the start (the marker goes after it). It is checked by exact counts: marker plus kept part
    cost at most ``room`` tokens, and one more character would cost more (or the whole text
    fits). Returns ``(characters kept, tokens of marker plus kept part)``, ``(0, 0)`` when not
    even one character fits.

    Work is bounded by ``room``, not by the text's length, so a 10 MB line costs about what a
    ``room``-token one does. With token ids (an :class:`~ctxbudget.typing.EncodingTokenizer`),
    only a window at the kept end is encoded, sized from a sample's characters per token and
    doubled until it holds more than ``room`` tokens; its last (or first) ``room`` token ids,
    decoded, give the first guess of a bisection on whole characters (the same bisection
    earlier versions ran over the whole text, so its cuts are unchanged; where BPE counts dip
    as text grows, its path decides which of two fitting cuts it finds), which counts only
    near the guess: a length that the window's ids put ``_MARGIN`` tokens or more short of the
    room is taken to fit, one they put as far past it not to. A count-only tokenizer (no
    ``encode``/``decode``) starts from the sample's estimate, refines it in proportion to the
    counts (at most ``_GUESSES`` times), then bisects on exact counts: about ten counts of
    about ``room`` tokens each. Either way the cut is then checked by exact counts, and
    searched for again by exact counts alone should an assumption have been wrong.
    """
    n = len(text)
    if n == 0 or room < 1:
        return 0, 0
    end = keep == "end"

    def piece(length: int) -> str:
        return text[n - length :] if end else text[:length]

    costs: dict[int, int] = {}

    def cost(length: int) -> int:
        if length not in costs:
            kept = piece(length)
            costs[length] = tokenizer.count(marker + kept if end else kept + marker)
        return costs[length]

    def fits(length: int) -> bool:
        return cost(length) <= room

    sample = piece(min(n, _SAMPLE_CHARS))
    chars_per_token = len(sample) / max(1, tokenizer.count(sample))
    spare = room - tokenizer.count(marker)
    codec = codec_of(tokenizer)
    if codec is None:
        lo = _by_counts(cost, fits, n=n, room=room, spare=spare, chars_per_token=chars_per_token)
        guess = min(n, max(1, math.ceil(spare * chars_per_token)))
    else:
        lo, guess = _by_ids(
            codec,
            piece,
            fits,
            n=n,
            room=room,
            spare=spare,
            chars_per_token=chars_per_token,
            end=end,
        )
    checked = fits(lo) and (lo == n or not fits(lo + 1)) if lo else not fits(1)
    if not checked:  # a length taken to fit, or not to, without a count was wrong
        lo = _settle(fits, n, guess)
    return (lo, cost(lo)) if lo else (0, 0)


def _by_ids(
    codec: Codec,
    piece: Callable[[int], str],
    fits: Callable[[int], bool],
    *,
    n: int,
    room: int,
    spare: int,
    chars_per_token: float,
    end: bool,
) -> tuple[int, int]:
    """The cut found from the ids of a window at the kept end, and the guess to settle from."""
    encode, decode = codec
    width = min(n, math.ceil(room * chars_per_token * _WINDOW_MARGIN) + _SAMPLE_CHARS)
    while True:
        ids = encode(piece(width))
        if len(ids) > room + _MARGIN or width == n:
            break
        width = min(n, 2 * width)

    def covered(k: int) -> int:
        """Characters of the window's last (first) ``k`` tokens."""
        return len(decode(ids[-k:] if end else ids[:k])) if k > 0 else 0

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
    return lo, min(n, max(1, covered(spare)))


def _by_counts(
    cost: Callable[[int], int],
    fits: Callable[[int], bool],
    *,
    n: int,
    room: int,
    spare: int,
    chars_per_token: float,
) -> int:
    """The cut found by counts alone: proportional guesses bracket it, bisection closes in."""
    lo, hi = 0, n + 1  # lo fits (0 trivially); hi does not (n + 1: past the end)
    marker_tokens = room - spare
    x = min(n, max(1, math.ceil(spare * chars_per_token)))
    for _ in range(_GUESSES):
        c = cost(x)
        if c <= room:
            lo = x
            if x == n:
                return n
        else:
            hi = x
        if hi - lo <= 1:
            break
        # counts grow about in proportion to length: aim just inside the room
        target = x * max(spare, 1) / max(c - marker_tokens, 1)
        x = min(hi - 1, max(lo + 1, round(target)))
    while hi - lo > 1:
        mid = (lo + hi) // 2 if hi <= n else min(n, 2 * lo + 1)
        if fits(mid):
            lo = mid
            if mid == n:
                break
        else:
            hi = mid
    return lo


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


def truncate(
    text: str,
    max_tokens: int,
    tokenizer: Tokenizer | str = "o200k_base",
    *,
    keep: Keep = "start",
    marker: str = "",
) -> str:
    """``text`` if it fits in ``max_tokens`` tokens, else its longest start (or end) that fits
    with ``marker``.

    Args:
        text: the text to cut.
        max_tokens: the budget, in tokens of ``tokenizer``, marker included (a whole number).
        tokenizer: any spec or object :func:`~ctxbudget.get_tokenizer` accepts; count-only
            tokenizers work too (the cut is then found by bisection on counts).
        keep: ``"start"`` keeps the beginning and puts ``marker`` after it; ``"end"`` keeps
            the end and puts ``marker`` before it.
        marker: text that marks the cut (e.g. ``" [...]"``), counted in the budget.

    Returns:
        The text unchanged, or the kept part with its marker: at most ``max_tokens`` tokens,
        whole characters only, and one more character would not fit; ``""`` when not even
        one character fits with the marker.

    Raises:
        ConfigurationError: ``max_tokens`` is not a whole number >= 0, or ``keep`` is invalid.
        TokenizerError: the tokenizer spec is unknown or cannot be loaded.

    >>> truncate("The quick brown fox jumps over the lazy dog", 5, "o200k_base", marker="…")
    'The quick brown fox …'
    """
    from ._registry import get_tokenizer

    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
        raise ConfigurationError(f"max_tokens must be a whole number >= 0, got {max_tokens!r}")
    if keep not in ("start", "end"):
        raise ConfigurationError(f"keep must be 'start' or 'end', got {keep!r}")
    tok = get_tokenizer(tokenizer)
    if tok.count(text) <= max_tokens:
        return text
    length, _ = fit_length(text, max_tokens, tokenizer=tok, keep=keep, marker=marker)
    if length == 0:
        return ""
    return marker + text[len(text) - length :] if keep == "end" else text[:length] + marker
