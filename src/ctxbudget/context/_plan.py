"""Allocation and reduction over a build's parts: the stages between measuring and trimming.

:func:`allocate_parts` runs the pure :func:`~ctxbudget.context._allocation.allocate` and
measures further only the sections whose allocation reaches past what is measured, until the
allocation is stable; sections never measured past their allocation keep a lower-bound demand.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .._errors import BudgetError, RequiredSectionsExceedCap
from ..typing import Tokenizer
from ._allocation import Strategy, allocate, check_required_limit
from ._items import item_spans
from ._measure import MeasuredSection
from ._parts import Part
from ._trimming import keep_fitting

__all__ = ["allocate_parts", "allocate_uncapped", "reduce_parts"]


def allocate_uncapped(live: list[Part]) -> None:
    """With no cap: every section keeps everything up to its own ``max_tokens``.

    Raises:
        RequiredSectionsExceedCap: a required section is larger than its own ``max_tokens``.
    """
    for p in live:
        m = p.m
        if p.required:
            check_required_limit(p.name, p.header + m.total, p.max_tokens)
        limit = math.inf if p.max_tokens is None else p.max_tokens - p.header
        m.measure_until(limit)
        p.allocated = p.header + m.total if p.max_tokens is None else p.max_tokens
        keep_fitting(p, p.allocated - p.header)


def allocate_parts(live: list[Part], budget: int, cap: int, base: int, strategy: Strategy) -> None:
    """Set each part's ``allocated`` share of ``budget`` tokens (the cap less the frame).

    Raises:
        BudgetError: the template's own text (``base`` tokens) exceeds the cap.
        RequiredSectionsExceedCap: required sections alone exceed the cap (frame included).
    """
    if budget < 0:
        raise BudgetError(
            f"the template's own text needs {base} tokens but the cap is {cap}: "
            f"raise max_tokens or shorten the template"
        )
    weights = {p.name: p.weight for p in live}
    mins = {p.name: p.min_tokens for p in live if p.min_tokens is not None}
    maxs = {p.name: p.max_tokens for p in live if p.max_tokens is not None}
    required = [p.name for p in live if p.required]
    while True:
        demands = {p.name: p.header + p.m.total if p.m.complete else None for p in live}
        try:
            alloc = allocate(
                budget,
                weights,
                demands=demands,
                min_tokens=mins,
                max_tokens=maxs,
                required=required,
                strategy=strategy,
            )
        except RequiredSectionsExceedCap as exc:
            if exc.section_limit:
                raise
            raise RequiredSectionsExceedCap(
                needed=exc.needed + base, cap=cap, sections=exc.sections
            ) from None
        grew = False
        for p in live:
            p.allocated = alloc[p.name]
            room = p.allocated - p.header
            if not p.m.complete and p.m.total <= room:
                p.m.measure_until(room)
                grew = True
        if not grew:
            return


def reduce_parts(live: list[Part], tokenizer: Tokenizer, count: Callable[[str], int]) -> bool:
    """Run the reducers of sections over their allocation; ``True`` if any ran.

    A reduced section is measured again from its new items.
    """
    ran = False
    for p in live:
        m = p.m
        if not p.reducers or (m.complete and p.header + m.total <= p.allocated):
            continue
        content = m.content
        if isinstance(content, str):
            items = [content[s:e] for s, e in item_spans(content, m.split, reverse=False)]
        else:
            items = [item for item in content if item]
        for _, reducer in p.reducers:
            items, reduction = reducer(items, tokenizer)
            if reduction.removed or reduction.added:
                p.reductions.append(reduction)
        p.measured = MeasuredSection(p.name, items, split=m.split, keep=m.keep, count=count)
        p.measured.measure_items(1)
        ran = True
    return ran
