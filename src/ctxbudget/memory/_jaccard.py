"""Near-duplicate search over word sets by Jaccard similarity, exact and sub-quadratic.

``dedupe`` asks, for each item newest first, whether its word set ``A`` has
``len(A & B) / len(A | B) >= threshold`` with the word set ``B`` of any item kept so far.
Comparing against every kept set costs O(n²) set operations (about a minute at 10k items).
:class:`JaccardIndex` answers the same question from a prefix-filter index, the candidate
filter of set-similarity joins (Chaudhuri, Ganti and Kaushik, "A Primitive Operator for
Similarity Joins in Data Cleaning", ICDE 2006; Bayardo, Ma and Srikant, "Scaling Up All Pairs
Similarity Search", WWW 2007), then decides each candidate with that same float expression.

Why no match is missed (for ``0 < threshold <= 1``; other thresholds need no index):

1. Fix one total order of all words (rarest first, ties by first appearance). A set's
   *prefix* is its first ``len(S) - alpha(len(S)) + 1`` words in that order.
2. If ``len(A & B) >= alpha_A`` and ``len(A & B) >= alpha_B``, the prefixes meet: the smallest
   common word ``x`` has at least ``len(A & B) - 1`` common words after it in ``A``, so its
   position in ``A`` is at most ``len(A) - len(A & B) + 1 <= len(A) - alpha_A + 1``; the same
   holds in ``B``.
3. A match has ``len(A & B) >= t * len(A | B) >= t * max(len(A), len(B))``, so
   ``alpha(n) = ceil(t * n)`` is a lower bound for both sets. We use one less (at least 1) so
   that the float rounding of ``t * n`` and of the similarity itself cannot make the bound
   too high: a longer prefix only adds candidates, it never loses one.
4. The same bounds give the size filter: ``len(B) >= len(A & B) >= alpha(len(A))``, and
   ``t * len(B) <= len(A)`` (``len(A) >= len(A & B) >= t * len(A | B) >= t * len(B)``), tested
   with one word of slack for the same reason.

5. The count filter: say ``A`` and ``B`` share ``c`` prefix words, and ``E`` is the one of the
   two whose prefix ends earlier in the order. A common word ranked up to that end is in both
   prefixes, so it is one of the ``c``; every later common word is among the words of ``E``
   past its prefix, and a set has ``alpha - 1`` of those. So
   ``len(A & B) <= c + max(alpha_A, alpha_B) - 1``. The similarity ``x / (len(A) + len(B) - x)``
   grows with ``x`` and a correctly rounded division keeps that order (a ``Fraction``
   threshold compares exactly), so a candidate whose bound already falls short cannot match.
   Above the smallest thresholds (where ``alpha`` is at least 2), two sets of one size that
   share a single prefix word never do.

Each kept set is indexed under its prefix words only; a query probes the postings of its own
prefix words, so rare words (most words of real text) keep candidate lists short, and counts
how many of them each candidate shares, so only candidates that can still match are compared
word by word (about 1 in 17 of those the size filter lets through, on real chat text).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Collection, Hashable, Sequence
from itertools import chain, repeat

__all__ = ["JaccardIndex"]


class JaccardIndex:
    """The sets added so far, and whether a new one is Jaccard-similar to any of them.

    Args:
        sets: every set that will be offered, by position (the word order is fixed from their
            word frequencies up front), each a collection of distinct hashable elements: a
            frozenset, or a tuple without repeats (a tuple of strings costs the cyclic garbage
            collector nothing once seen, where a frozenset is traversed element by element at
            every collection that reaches it: about 12 % of a 10k-item ``dedupe``).
        threshold: the similarity at or above which two sets match; a real number.

    A set with no words matches nothing (as in the all-pairs rule, where its similarity is
    never computed), but counts as added.

    >>> index = JaccardIndex([frozenset("abc"), frozenset("ab"), frozenset("xy")], 0.6)
    >>> [index.add_unless_similar(i) for i in range(3)]
    [True, False, True]
    """

    def __init__(self, sets: Sequence[Collection[Hashable]], threshold: float) -> None:
        self._sets = sets
        self._sizes = list(map(len, sets))
        self._threshold = threshold
        self._any_added = False
        # NaN and thresholds above 1 match nothing (similarity <= 1); <= 0 matches anything.
        self._mode = "none" if not threshold <= 1 else "all" if threshold <= 0 else "index"
        # only an index compares floats (a threshold such as 10**400 is no float at all)
        self._t = float(threshold) if self._mode == "index" else 0.0
        self._postings: defaultdict[int, list[int]] = defaultdict(list)
        self._rank: dict[Hashable, int] = {}
        self._rare: frozenset[Hashable] = frozenset()
        # each set's words beyond its indexed prefix, alpha - 1 (step 5)
        self._beyond: list[int] = []
        if self._mode == "index":
            frequency = Counter(chain.from_iterable(sets))
            # rarest first; a stable sort breaks ties by first appearance: still one total order
            ordered = sorted(frequency, key=frequency.__getitem__)
            self._rank = {word: i for i, word in enumerate(ordered)}
            # The first words of that order that make up a quarter of all the sets' words: a
            # set with at least a prefix's worth of them has its prefix among them, so only
            # they need ranking (a C-level set intersection picks them out).
            quarter, seen, cut = sum(frequency.values()) / 4, 0, 0
            while cut < len(ordered) and seen < quarter:
                seen += frequency[ordered[cut]]
                cut += 1
            self._rare = frozenset(ordered[:cut])
            self._beyond = [self._alpha(m) - 1 for m in self._sizes]

    def _alpha(self, n: int) -> int:
        """The lower bound of a match's common words for a set of ``n`` words (step 3)."""
        return max(1, math.ceil(self._t * n) - 1)

    def add_unless_similar(self, i: int) -> bool:
        """Add set ``i`` unless it matches a set added before; ``True`` if it was added."""
        stored = self._sets[i]
        if self._mode != "index" or not stored:
            similar = bool(stored) and self._mode == "all" and self._any_added
            self._any_added |= not similar
            return not similar
        n, t, sizes, postings = self._sizes[i], self._t, self._sizes, self._postings
        alpha = self._alpha(n)  # steps 1 and 3
        rank = self._rank.__getitem__
        if alpha == 1:
            prefix = list(map(rank, stored))
        else:
            size = n - alpha + 1
            # every rare word comes before every other in the order
            rare = self._rare.intersection(stored)
            prefix = sorted(map(rank, rare if len(rare) >= size else stored))[:size]
        # Candidates: every set indexed under a prefix word, with how many of them it shares.
        lists = [found for found in map(postings.get, prefix) if found]
        if lists:
            threshold, sets, beyond = self._threshold, self._sets, self._beyond
            words: frozenset[Hashable] | None = None
            # one list needs no count (a Counter costs about 1 us to make)
            counts = Counter(chain.from_iterable(lists)) if len(lists) > 1 else None
            for j, shared in counts.items() if counts else zip(lists[0], repeat(1)):
                m = sizes[j]
                if m < alpha or t * m > n + 1:  # size filter (step 4): B too small or too big
                    continue
                most = min(shared + max(alpha - 1, beyond[j]), n, m)  # step 5
                if most / (n + m - most) < threshold:
                    continue
                if words is None:
                    words = frozenset(stored)  # a frozenset is itself, not a copy
                common = len(words.intersection(sets[j]))
                if common / (n + m - common) >= threshold:  # the len(A | B) of the rule
                    return False
        self._any_added = True
        deque(map(list.append, map(postings.__getitem__, prefix), repeat(i)), 0)
        return True
