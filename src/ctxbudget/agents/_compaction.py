"""Compaction for agent loops: budgeted by construction, always making progress, cache-stable.

Between turns, :meth:`Compactor.step` adds the new messages and checks the request's fill
against the context window, now and predicted for the next turn (the moving average of recent
growth, via :class:`~ctxbudget.ContextWindow`). At the threshold (default 0.85) it compacts
down to the low-water mark (default 0.5) through a fallback chain (:mod:`._chain`): clear old
tool results, fold the oldest turns into the running summary (the configured summarizer, the
offline one should it fail), then archive the oldest turns whole. Between compactions the
request only grows at its end, so a provider's prompt cache keeps matching its prefix.

Every part of a request has a ceiling fixed at construction (:mod:`._layout`), so every
request fits the window whatever arrives: an oversized message is clamped (head and tail kept,
the original archived) before any history is evicted. Nothing is lost: every message that
leaves the request is in the archive, under a content-addressed id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import BudgetError, ConfigurationError
from .._validate import whole_number
from ..context._indicator import INDICATOR
from ..memory import Archive, MemoryArchive, archive_from_url
from ..memory._state import SummaryState
from ..memory._summarize import ExtractiveSummarizer
from ..messages import REPLY_PRIMING, message_tokens
from ..session._window import ContextWindow
from ..tokenizers import CachedTokenizer, get_tokenizer
from ..typing import Summarizer
from . import _chain, _checkpoint, _spend
from ._layout import (
    MIN_INDEX_TOKENS,
    budgets,
    check_indicator,
    indicator_message,
    minimum_window,
    summary_message_within,
)
from ._receipts import Compaction, CompactionStep, Trigger
from ._spend import OnExhausted

if TYPE_CHECKING:
    from ..session import SessionBudget

__all__ = ["Compaction", "CompactionStep", "Compactor"]

log = logging.getLogger("ctxbudget.agents")

Message = Mapping[str, Any]


def _fraction(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
        raise ConfigurationError(f"{name} must be in ({low:g}, {high:g}], got {value!r}")
    return float(value)


class Compactor:
    """Keeps an agent's conversation within its context window by compaction.

    Args:
        window_tokens: the model's context window, in tokens.
        threshold: fill (now or predicted for the next turn) that triggers compaction, (0, 1].
        low_water: fill a compaction aims at, (0, threshold): compaction happens in steps, not
            one message per turn, so the prompt cache survives between compactions.
        keep_last_turns: turns (a user message and what follows it) never folded into the
            summary; only archived whole when they alone keep the request over the threshold.
        summary_tokens: limit of the running summary, in tokens (default ``window // 5``, at
            most 1,000).
        index_tokens: limit of the archived-block index, in tokens (default ``window // 20``
            within 48-500); the oldest blocks collapse into ranges to stay within it.
        keep_tool_results: tool results kept verbatim when old ones are cleared (the newest N,
            as Anthropic's context editing does).
        tool_result_tokens: a tool result larger than this (tokens) is clamped when added
            (default a quarter of the room for recent turns).
        min_free_tokens: the least a compaction must free before the next strategy of the chain
            is tried; clearing tool results is skipped if it frees less (default window // 20).
        summarizer: a :class:`~ctxbudget.Summarizer` (default the offline extractive one).
        archive: where originals go (an :class:`~ctxbudget.Archive` or URL; default memory).
        tokenizer: the tokenizer spec or object.
        indicator: a budget-indicator template, added as the last message (counted in the
            window), ``True`` for :data:`INDICATOR`, or ``None``.
        on_compaction: called with each :class:`Compaction` receipt.
        budget: a :class:`~ctxbudget.SessionBudget` that pays for LLM summaries (reserved and
            committed like any call; refused: the offline summarizer writes it, ``partial``)
            and is checked before each request (see ``on_exhausted``).
        session, user, conversation: the budget's scopes (``session`` required with a budget).
        on_exhausted: when the budget cannot pay for the next request, ``"raise"``
            :class:`~ctxbudget.BudgetExhausted`, or ``"degrade"``: return the smallest request
            (system messages, summary message, newest turn) and set :attr:`degraded`.

    Raises:
        ConfigurationError: an argument is out of range, or the window is smaller than the
            smallest workable one for these settings (the message gives the numbers).
    """

    def __init__(
        self,
        window_tokens: int,
        *,
        threshold: float = 0.85,
        low_water: float = 0.5,
        keep_last_turns: int = 4,
        summary_tokens: int | None = None,
        index_tokens: int | None = None,
        keep_tool_results: int = 3,
        tool_result_tokens: int | None = None,
        min_free_tokens: int | None = None,
        summarizer: Summarizer | None = None,
        archive: Archive | str | None = None,
        tokenizer: Any = "o200k_base",
        indicator: str | bool | None = None,
        on_compaction: Callable[[Compaction], None] | None = None,
        budget: SessionBudget | None = None,
        session: str | None = None,
        user: str | None = None,
        conversation: str | None = None,
        on_exhausted: OnExhausted = "raise",
    ) -> None:
        _spend.check_budget(budget, session, on_exhausted)
        self.budget, self.session, self.user = budget, session, user
        self.conversation, self.on_exhausted = conversation, on_exhausted
        #: Whether the last request was the degraded one (see ``on_exhausted``).
        self.degraded = False
        window = whole_number(window_tokens, "window_tokens", minimum=1, unit="tokens")
        self.threshold = _fraction(threshold, "threshold", 0.0, 1.0)
        self.low_water = _fraction(low_water, "low_water", 0.0, self.threshold)
        if self.low_water == self.threshold:
            raise ConfigurationError(
                f"low_water must be below threshold ({self.threshold:g}), got {low_water!r}"
            )
        self.keep_last_turns = whole_number(keep_last_turns, "keep_last_turns", minimum=1)
        self.keep_tool_results = whole_number(keep_tool_results, "keep_tool_results", minimum=0)
        if summary_tokens is None:
            summary_tokens = max(1, min(1000, window // 5))
        if index_tokens is None:
            index_tokens = max(MIN_INDEX_TOKENS, min(500, window // 20))
        self.summary_tokens = whole_number(summary_tokens, "summary_tokens", minimum=1)
        self.index_tokens = whole_number(index_tokens, "index_tokens", minimum=MIN_INDEX_TOKENS)
        self.window_tokens = window
        self.window = ContextWindow(window, threshold=self.threshold)
        # Every turn re-measures the conversation: count each message's text only once.
        self.tokenizer = CachedTokenizer(get_tokenizer(tokenizer))
        self.indicator = INDICATOR if indicator is True else (indicator or None)
        check_indicator(self.indicator)
        self.budgets = budgets(
            window, self.summary_tokens, self.index_tokens, self.indicator, self.tokenizer
        )
        smallest = minimum_window(
            self.summary_tokens, self.index_tokens, self.indicator, self.tokenizer
        )
        if window < smallest:
            b = self.budgets
            raise ConfigurationError(
                f"window_tokens={window} is below the smallest workable window for these "
                f"settings, {smallest} tokens: reply priming {REPLY_PRIMING} + summary message "
                f"{b.summary_message} (summary_tokens={self.summary_tokens}, "
                f"index_tokens={self.index_tokens}, headers) + indicator {b.indicator} + "
                f"{b.min_turn} for the newest unit, clamped; raise window_tokens or lower "
                f"summary_tokens/index_tokens"
            )
        room = self.budgets.room(0)
        if tool_result_tokens is None:
            tool_result_tokens = max(self.budgets.min_turn, room // 4)
        self.tool_result_tokens = whole_number(
            tool_result_tokens, "tool_result_tokens", minimum=self.budgets.min_turn
        )
        if min_free_tokens is None:
            min_free_tokens = max(1, window // 20)
        self.min_free_tokens = whole_number(min_free_tokens, "min_free_tokens", minimum=1)
        self.summarizer: Summarizer = (
            summarizer if summarizer is not None else ExtractiveSummarizer(self.tokenizer)
        )
        self.offline = ExtractiveSummarizer(self.tokenizer)
        self.archive: Archive = (
            archive_from_url(archive) if isinstance(archive, str) else archive or MemoryArchive()
        )
        self.on_compaction = on_compaction
        self.state = SummaryState()
        self.blocks: list[dict[str, Any]] = []
        self.system: list[Message] = []
        self.recent: list[Message] = []
        self._summary_memo: tuple[tuple[Any, ...], Message | None, int] | None = None

    @property
    def summary(self) -> str:
        """The running summary as the request shows it (``""`` before the first compaction)."""
        return self.state.render()

    # -- the conversation ------------------------------------------------------------------

    def add(self, *messages: Message) -> None:
        """Append messages. System messages are pins: kept in every request, before the rest.
        A tool result over ``tool_result_tokens`` is clamped (its original archived).

        Raises:
            ConfigurationError: a message is malformed, or is not JSON data the archive can
                keep exactly (tuples, NaN, bytes, non-str keys).
            BudgetError: the system messages would leave less than the newest turn's minimum
                room (the message gives the numbers).
        """
        for message in messages:
            cost = message_tokens(message, self.tokenizer)  # validates the message
            _chain.check_archivable(message)
            if message["role"] == "system":
                pins = self._pins() + cost
                if self.budgets.room(pins) < self.budgets.min_turn:
                    raise BudgetError(
                        f"system messages of {pins} tokens leave "
                        f"{self.budgets.room(pins)} tokens for the conversation in a "
                        f"{self.window_tokens}-token window; at least {self.budgets.min_turn} "
                        f"are needed: shorten the system messages or raise window_tokens"
                    )
                self.system.append(message)
                continue
            if _chain.is_tool_result(message) and cost > self.tool_result_tokens:
                self.recent.append(_chain.clamp_on_add(self, message, cost))
            else:
                self.recent.append(message)

    def step(self, *messages: Message) -> list[Message]:
        """The hook between turns: add ``messages``, compact if the fill calls for it, and
        return the next request's messages (always within the window).

        Raises:
            ConfigurationError: a message is malformed.
            BudgetError: the newest turn cannot be made to fit (it has no text to clamp).
        """
        self.add(*messages)
        tokens = self.tokens()
        forecast = self.window.observe(tokens)
        if tokens >= self.threshold * self.window_tokens:
            self.compact(trigger="threshold")
        elif forecast.triggered:
            self.compact(trigger="forecast")
        return self.prompt()

    def _pins(self) -> int:
        return sum(message_tokens(m, self.tokenizer) for m in self.system)

    def summary_message(self) -> tuple[Message | None, int]:
        """The summary message (running summary and index) and its tokens; ``(None, 0)``
        before anything was compacted. Always within its ceiling (``budgets.summary_message``):
        the index collapses, then the summary is cut, until the exact count fits."""
        key = (self.state, len(self.blocks), self.blocks[-1]["id"] if self.blocks else None)
        if self._summary_memo is None or self._summary_memo[0] != key:
            message, cost = (None, 0)
            if self.summary or self.blocks:
                message, cost = summary_message_within(
                    self.state, self.blocks, self.index_tokens, self.budgets, self.tokenizer
                )
            self._summary_memo = (key, message, cost)
        return self._summary_memo[1], self._summary_memo[2]

    def _base(self) -> list[Message]:
        summary, _ = self.summary_message()
        return [*self.system, *([summary] if summary is not None else []), *self.recent]

    def tokens(self) -> int:
        """Tokens of the next request as it stands: chat overhead, pins, summary message,
        recent turns, and the indicator's ceiling when enabled."""
        _, summary = self.summary_message()
        recent = sum(message_tokens(m, self.tokenizer) for m in self.recent)
        return REPLY_PRIMING + self._pins() + summary + recent + self.budgets.indicator

    # -- compaction -----------------------------------------------------------------------

    def compact(self, *, trigger: Trigger = "manual") -> Compaction | None:
        """Run the fallback chain down to the low-water mark (see :mod:`._chain`): clear old
        tool results, fold all but the last ``keep_last_turns`` turns into the summary, and,
        when that did not free ``min_free_tokens`` or the request is still over the threshold,
        archive the oldest turns whole and clamp the newest if it alone is too large.

        Returns:
            The receipt, or ``None`` when there was nothing to compact.

        Raises:
            BudgetError: the newest turn cannot be made to fit (no text to clamp).
        """
        before = self.tokens()
        steps = _chain.run(self, before, manual=trigger == "manual")
        if not steps:
            return None
        after = self.tokens()
        archived = [bid for s in steps for bid in s.archived]
        by_id = {b["id"]: b for b in self.blocks}
        result = Compaction(
            block_id=archived[0] if archived else "",
            messages=sum(s.messages for s in steps if s.strategy != "clamp"),
            tokens=sum(int(by_id[b]["tokens"]) for b in dict.fromkeys(archived) if b in by_id),
            summary_tokens=self.tokenizer.count(self.summary),
            fill_before=before / self.window_tokens,
            fill_after=after / self.window_tokens,
            tokens_before=before,
            tokens_after=after,
            steps=tuple(steps),
            partial=any(s.strategy == "offline_summary" for s in steps),
            trigger=trigger,
        )
        log.info(
            "compaction (%s): %d -> %d tokens by %s",
            trigger,
            before,
            after,
            ", ".join(result.strategies),
        )
        if self.on_compaction is not None:
            self.on_compaction(result)
        return result

    def archive_messages(self, messages: Sequence[Message], kind: str) -> str:
        """Archive ``messages`` as one block listed in the index; returns its id (the same
        messages always get the same id)."""
        return _chain.archive_block(self, messages, kind)

    def expand(self, block_id: str) -> list[Message]:
        """The original messages of an archived block, exactly as they were.

        Raises:
            KeyError: no block of that id.
        """
        content: list[Message] = self.archive.get(block_id).content
        return content

    # -- the request ----------------------------------------------------------------------

    def prompt(self) -> list[Message]:
        """The next request: system messages, the summary and index, the recent turns, and the
        budget indicator last when enabled; always within the window.

        If it would not fit, the fallback chain runs first (trigger ``"overflow"``).

        Raises:
            BudgetError: the newest turn cannot be made to fit (it has no text to clamp).
            BudgetExhausted: the session budget cannot pay for it (``on_exhausted="raise"``).
        """
        if self.tokens() > self.window_tokens:
            self.compact(trigger="overflow")
        messages = self._base()
        total = REPLY_PRIMING + sum(message_tokens(m, self.tokenizer) for m in messages)
        if self.indicator is not None:
            messages.append(
                indicator_message(
                    total, self.window_tokens, len(self.blocks), self.indicator, self.tokenizer
                )
            )
        sent = REPLY_PRIMING + sum(message_tokens(m, self.tokenizer) for m in messages)
        if sent > self.window_tokens:
            raise BudgetError(
                f"the request needs {sent} tokens, over the budget of {self.window_tokens}: "
                f"its newest turn has no text that can be clamped"
            )
        return _spend.afford(self, messages, self._degraded)

    def _degraded(self) -> list[Message]:
        """The smallest request that carries the conversation: pins, summary, newest turn."""
        summary, _ = self.summary_message()
        newest = _chain.newest_turn(self.recent)
        return [*self.system, *([summary] if summary is not None else []), *newest]

    # -- checkpoints ----------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """The compressed state as JSON-ready data (version 2): settings, the structured
        running summary, the index of archived blocks (ids, tokens, one-line descriptions, time
        ranges), system messages and recent turns (datetime timestamps as
        ``{"$datetime": ISO}``, read back by :meth:`recover`)."""
        return _checkpoint.to_data(self)

    @classmethod
    def recover(
        cls,
        checkpoint: Mapping[str, Any],
        *,
        archive: Archive | str,
        summarizer: Summarizer | None = None,
        tokenizer: Any = "o200k_base",
        on_compaction: Callable[[Compaction], None] | None = None,
        **budget: Any,
    ) -> Compactor:
        """Rebuild a compactor from :meth:`checkpoint` data, without replaying the history:
        the same next prompt, and the same forecast of the next turns. Version-1 checkpoints
        (a plain summary text) are read too. ``budget``: ``budget``, ``session``, ``user``,
        ``conversation`` and ``on_exhausted`` as for the constructor (objects, not data, so
        not in the checkpoint).

        Raises:
            ConfigurationError: the data is not a version 1 or 2 checkpoint, or a key, setting
                or message in it is malformed (the message names it).
            BudgetError: its system messages no longer leave room for a turn.
        """
        return _checkpoint.from_data(
            cls,
            checkpoint,
            archive=archive,
            summarizer=summarizer,
            tokenizer=tokenizer,
            on_compaction=on_compaction,
            **budget,
        )
