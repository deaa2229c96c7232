"""The soft budget indicator: a line telling the model how full its context window is.

``[Context: 12,450/16,000 tokens (78%) | 3 archived blocks available]``. Builders and the
Compactor inject it computed fresh from the final count, itself included.
"""

from __future__ import annotations

from collections.abc import Callable

from ._measure import MeasuredSection
from ._parts import Part
from ._trimming import Assemble, verify

__all__ = ["INDICATOR", "budget_indicator", "fill_indicator"]

#: The default soft budget indicator.
INDICATOR = (
    "[Context: {used:,}/{cap:,} tokens ({percent:.0f}%) | {archived} archived blocks available]"
)


def budget_indicator(used: int, cap: int, archived: int = 0, template: str = INDICATOR) -> str:
    """The soft budget indicator, e.g.
    ``[Context: 12,450/16,000 tokens (78%) | 3 archived blocks available]``.

    Args:
        used: tokens in the context now. cap: the window, in tokens. archived: blocks kept.
        template: a ``str.format`` template with ``used``, ``cap``, ``percent``, ``archived``.
    """
    percent = 100.0 * used / cap if cap else 0.0
    return template.format(used=used, cap=cap, percent=percent, archived=archived)


def fill_indicator(
    part: Part,
    live: list[Part],
    text: str,
    tokens: int,
    cap: int,
    *,
    line: Callable[[int, int], str],
    count: Callable[[str], int],
    assemble: Assemble,
) -> tuple[str, int]:
    """Replace the indicator's placeholder with the real numbers, which count themselves.

    The indicator section ``part`` was measured with the widest line it can take; its line
    ``line(used, cap)`` is rendered until the total settles on a fixed point (a few renders),
    and the cap is verified again each time.

    Returns:
        ``(text, tokens)`` of the assembled context with the indicator filled in.
    """
    for _ in range(4):
        part.measured = MeasuredSection(
            part.name, [line(tokens, cap)], split="lines", keep="end", count=count
        )
        part.measured.measure_all()
        part.kept = 1
        new_text, new_tokens = assemble(live)
        if new_tokens > cap:
            new_text, new_tokens = verify(live, new_text, new_tokens, cap, assemble=assemble)
        settled = new_tokens == tokens
        text, tokens = new_text, new_tokens
        if settled:
            break
    return text, tokens
