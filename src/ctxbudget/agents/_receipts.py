"""What one compaction did: a receipt per strategy of the fallback chain, and the whole."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Compaction", "CompactionStep", "Strategy", "Trigger"]

#: The strategies of the fallback chain, in the order they are tried (see :class:`Compactor`).
Strategy = Literal["clamp", "clear_tool_results", "summarize", "offline_summary", "truncate"]
#: Why a compaction ran: the fill reached the threshold, the forecast did, the next request
#: would not fit, or :meth:`Compactor.compact` was called.
Trigger = Literal["threshold", "forecast", "overflow", "manual"]


@dataclass(frozen=True)
class CompactionStep:
    """One strategy that ran. Sizes in tokens of the whole request.

    Attributes:
        strategy: which strategy.
        tokens_before: the request's tokens before it ran.
        tokens_after: after it ran.
        archived: ids of the archive blocks it wrote (the originals, retrievable with
            :meth:`Compactor.expand`).
        messages: messages it archived, folded or clamped.
        note: what happened when it did not go as planned (a summarizer that raised, returned
            nothing, or could not be paid for), else ``""``.
    """

    strategy: Strategy
    tokens_before: int
    tokens_after: int
    archived: tuple[str, ...] = ()
    messages: int = 0
    note: str = ""

    @property
    def freed(self) -> int:
        """Tokens this step freed (negative if it grew the request)."""
        return self.tokens_before - self.tokens_after


@dataclass(frozen=True)
class Compaction:
    """One compaction: what was archived and how the fill changed (tokens; fills in 0-1).

    Attributes:
        block_id: the block holding the folded (or first archived) messages; ``""`` when the
            compaction archived nothing (only a summary update).
        messages: messages archived, in all steps.
        tokens: tokens of the archived messages, as they were.
        summary_tokens: tokens of the running summary afterwards.
        fill_before: the request's fill before, ``tokens_before / window``.
        fill_after: after.
        tokens_before: the request's tokens before.
        tokens_after: after.
        steps: each strategy that ran, in order.
        partial: a fallback took over (the summarizer failed, returned nothing, or could not
            be paid for; the offline summarizer wrote the summary instead).
        trigger: why the compaction ran.
    """

    block_id: str
    messages: int
    tokens: int
    summary_tokens: int
    fill_before: float
    fill_after: float
    tokens_before: int = 0
    tokens_after: int = 0
    steps: tuple[CompactionStep, ...] = ()
    partial: bool = False
    trigger: Trigger = "manual"

    @property
    def freed(self) -> int:
        """Tokens the compaction freed."""
        return self.tokens_before - self.tokens_after

    @property
    def strategies(self) -> tuple[Strategy, ...]:
        """The strategies that ran, in order."""
        return tuple(step.strategy for step in self.steps)
