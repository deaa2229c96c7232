"""Compaction for agent loops: compress on fill, archive the originals, never lose a message.

Between turns, :meth:`Compactor.step` adds the new messages and checks the conversation's fill
against its context window, both now and predicted for the next turn (the moving average of
recent growth, via :class:`~ctxbudget.ContextWindow`). At the threshold (default 0.85) it
replaces the oldest turns with one running summary and archives the originals. It never touches
the last ``keep_last_turns`` turns and never splits a tool call from its results. Every request
built by :meth:`Compactor.prompt` fits the window. If one turn is still too large,
:func:`~ctxbudget.fit_messages` drops the oldest turns, and those are archived too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .._errors import ConfigurationError
from .._validate import whole_number
from ..context._indicator import INDICATOR, budget_indicator
from ..memory import Archive, MemoryArchive, archive_from_url, from_json_data, to_json_data
from ..memory._summarize import ExtractiveSummarizer
from ..messages import REPLY_PRIMING, fit_messages, group_turns, message_text, message_tokens
from ..session._window import ContextWindow
from ..tokenizers import CachedTokenizer, get_tokenizer
from ..typing import Summarizer

__all__ = ["Compaction", "Compactor"]

_SUMMARY_HEADER = "Summary of the earlier conversation:"
_INDEX_HEADER = "Archived blocks (ask to expand one by id):"
_INDEX_SHOWN = 10

Message = Mapping[str, Any]


@dataclass(frozen=True)
class Compaction:
    """One compaction: what was archived and how the fill changed (tokens; fills in 0-1)."""

    block_id: str
    messages: int
    tokens: int
    summary_tokens: int
    fill_before: float
    fill_after: float


def _stamp(message: Message) -> datetime | None:
    """A message's ``timestamp`` (a datetime or an ISO 8601 string) as an aware UTC datetime;
    a naive one is taken as UTC. ``None`` when absent or unreadable."""
    value = message.get("timestamp")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class Compactor:
    """Keeps an agent's conversation within its context window by compaction.

    Args:
        window_tokens: the model's context window, in tokens.
        threshold: fill (now or predicted for the next turn) that triggers compaction.
        keep_last_turns: turns (a user message and what follows it) never compacted.
        summary_tokens: limit of the running summary, in tokens.
        summarizer: a :class:`~ctxbudget.Summarizer` (default the offline extractive one).
        archive: where originals go (an :class:`~ctxbudget.Archive` or URL; default memory).
        tokenizer: the tokenizer spec or object.
        indicator: a budget-indicator template to inject as a system message (counted in the
            window), ``True`` for :data:`INDICATOR`, or ``None``.
        on_compaction: called with each :class:`Compaction`.

    Raises:
        ConfigurationError: an argument is out of range.
    """

    def __init__(
        self,
        window_tokens: int,
        *,
        threshold: float = 0.85,
        keep_last_turns: int = 4,
        summary_tokens: int = 1000,
        summarizer: Summarizer | None = None,
        archive: Archive | str | None = None,
        tokenizer: Any = "o200k_base",
        indicator: str | bool | None = None,
        on_compaction: Callable[[Compaction], None] | None = None,
    ) -> None:
        whole_number(keep_last_turns, "keep_last_turns", minimum=1)
        whole_number(summary_tokens, "summary_tokens", minimum=1)
        self.window = ContextWindow(window_tokens, threshold=threshold)
        self.window_tokens = window_tokens
        self.threshold = threshold
        self.keep_last_turns = keep_last_turns
        self.summary_tokens = summary_tokens
        # Every turn re-measures the conversation: count each message's text only once.
        self.tokenizer = CachedTokenizer(get_tokenizer(tokenizer))
        self.summarizer = (
            summarizer if summarizer is not None else ExtractiveSummarizer(self.tokenizer)
        )
        self.archive: Archive = (
            archive_from_url(archive) if isinstance(archive, str) else archive or MemoryArchive()
        )
        self.indicator = INDICATOR if indicator is True else (indicator or None)
        self.on_compaction = on_compaction
        self.summary = ""
        self.blocks: list[dict[str, Any]] = []
        self.system: list[Message] = []
        self.recent: list[Message] = []

    # -- the conversation ------------------------------------------------------------------

    def add(self, *messages: Message) -> None:
        """Append messages (system messages go to the system part, kept always)."""
        for message in messages:
            message_tokens(message, self.tokenizer)  # validates the message
            (self.system if message["role"] == "system" else self.recent).append(message)

    def step(self, *messages: Message) -> list[Message]:
        """The hook between turns: add ``messages``, compact if the fill calls for it, and
        return the next request's messages (always within the window).

        Raises:
            BudgetError: the system messages and newest turn alone exceed the window.
            Exception: whatever the summarizer raises (the state is left unchanged).
        """
        self.add(*messages)
        tokens = self.tokens()
        forecast = self.window.observe(tokens)
        if forecast.triggered or tokens >= self.threshold * self.window_tokens:
            self.compact()
        return self.prompt()

    def _summary_message(self) -> list[Message]:
        if not self.summary and not self.blocks:
            return []
        lines = [_SUMMARY_HEADER, self.summary] if self.summary else []
        if self.blocks:
            lines.append(_INDEX_HEADER)
            lines += [f"{b['id']}: {b['description']}" for b in self.blocks[-_INDEX_SHOWN:]]
        return [{"role": "system", "content": "\n".join(lines)}]

    def _base(self) -> list[Message]:
        return [*self.system, *self._summary_message(), *self.recent]

    def tokens(self) -> int:
        """Tokens of the conversation as it stands (chat overhead included, no indicator)."""
        return REPLY_PRIMING + sum(message_tokens(m, self.tokenizer) for m in self._base())

    # -- compaction -----------------------------------------------------------------------

    def compact(self) -> Compaction | None:
        """Replace the oldest turns (all but the last ``keep_last_turns``) with the running
        summary, archiving them; ``None`` when there is nothing old enough to compact.

        Raises:
            Exception: whatever the summarizer raises; nothing changes then.
        """
        groups = group_turns(self.recent)
        starts = [g for g in groups if self.recent[g[0]]["role"] == "user"]
        if len(starts) <= self.keep_last_turns:
            return None
        cut = starts[-self.keep_last_turns][0]
        old, kept = self.recent[:cut], self.recent[cut:]
        before = self.tokens()
        items = [f"summary: {self.summary}"] if self.summary else []
        items += [
            f"{m['role']}: {message_text(m.get('content'))}"
            for m in old
            if message_text(m.get("content"))
        ]
        summary = self.summarizer.summarize(items, self.summary_tokens)
        block_id = self._archive(old, f"{len(old)} messages compacted")
        self.summary = summary
        self.recent = kept
        after = self.tokens()
        result = Compaction(
            block_id=block_id,
            messages=len(old),
            tokens=self.blocks[-1]["tokens"],
            summary_tokens=self.tokenizer.count(summary),
            fill_before=before / self.window_tokens,
            fill_after=after / self.window_tokens,
        )
        if self.on_compaction is not None:
            self.on_compaction(result)
        return result

    def _archive(self, messages: Sequence[Message], kind: str) -> str:
        tokens = sum(message_tokens(m, self.tokenizer) for m in messages)
        first_user = next(
            (message_text(m.get("content")) for m in messages if m["role"] == "user"), ""
        )
        description = f"{kind}: {' '.join(first_user.split())[:60]}".rstrip(": ")
        stamps = [s for s in (_stamp(m) for m in messages) if s is not None]
        start, end = (min(stamps), max(stamps)) if stamps else (None, None)
        block_id = self.archive.put(
            [dict(m) for m in messages],
            tokens=tokens,
            summary=description,
            source="conversation",
            start=start,
            end=end,
        )
        self.blocks.append(
            {
                "id": block_id,
                "tokens": tokens,
                "description": description,
                "start": start.isoformat() if start else None,
                "end": end.isoformat() if end else None,
            }
        )
        return block_id

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
        budget indicator when enabled; always within the window.

        If it would not fit (one turn larger than the window's free room), the oldest recent
        turns are dropped by :func:`~ctxbudget.fit_messages` and archived, never lost.

        Raises:
            BudgetError: the system messages and the newest turn alone exceed the window.
        """
        room = self.window_tokens
        if self.indicator is not None:
            room -= self._indicator_cost()
        fitted = fit_messages(self._base(), room, tokenizer=self.tokenizer)
        if fitted.dropped:
            dropped = [m for m in fitted.dropped if m["role"] != "system"]
            ids = {id(m) for m in dropped}
            self.recent = [m for m in self.recent if id(m) not in ids]
            self._archive(dropped, f"{len(dropped)} messages over the window")
            fitted = fit_messages(self._base(), room, tokenizer=self.tokenizer)
        messages = list(fitted.messages)
        if self.indicator is not None:
            messages.insert(len(self.system), self._indicator_message(fitted.tokens))
        return messages

    def _indicator_message(self, tokens_without: int) -> Message:
        used = tokens_without
        for _ in range(4):  # the indicator counts itself: settle on a fixed point
            text = budget_indicator(
                used, self.window_tokens, len(self.blocks), self.indicator or ""
            )
            message = {"role": "system", "content": text}
            total = tokens_without + message_tokens(message, self.tokenizer)
            if total == used:
                break
            used = total
        return message

    def _indicator_cost(self) -> int:
        widest = budget_indicator(
            self.window_tokens, self.window_tokens, len(self.blocks) + 1, self.indicator or ""
        )
        return message_tokens({"role": "system", "content": widest}, self.tokenizer) + 2

    # -- checkpoints ----------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """The compressed state as JSON-ready data: running summary, index of archived blocks
        (ids, tokens, one-line descriptions, time ranges), system messages and recent turns
        (datetime timestamps as ``{"$datetime": ISO}``, read back by :meth:`recover`)."""
        return {
            "version": 1,
            "window_tokens": self.window_tokens,
            "threshold": self.threshold,
            "keep_last_turns": self.keep_last_turns,
            "summary_tokens": self.summary_tokens,
            "indicator": self.indicator,
            "summary": self.summary,
            "blocks": [dict(b) for b in self.blocks],
            "system": to_json_data([dict(m) for m in self.system]),
            "recent": to_json_data([dict(m) for m in self.recent]),
        }

    @classmethod
    def recover(
        cls,
        checkpoint: Mapping[str, Any],
        *,
        archive: Archive | str,
        summarizer: Summarizer | None = None,
        tokenizer: Any = "o200k_base",
        on_compaction: Callable[[Compaction], None] | None = None,
    ) -> Compactor:
        """Rebuild a compactor from :meth:`checkpoint` data, without replaying the history.

        Raises:
            ConfigurationError: the data is not a version-1 checkpoint.
        """
        if not isinstance(checkpoint, Mapping) or checkpoint.get("version") != 1:
            raise ConfigurationError("not a ctxbudget compactor checkpoint (version 1)")
        compactor = cls(
            checkpoint["window_tokens"],
            threshold=checkpoint["threshold"],
            keep_last_turns=checkpoint["keep_last_turns"],
            summary_tokens=checkpoint["summary_tokens"],
            summarizer=summarizer,
            archive=archive,
            tokenizer=tokenizer,
            indicator=checkpoint.get("indicator"),
            on_compaction=on_compaction,
        )
        compactor.summary = checkpoint["summary"]
        compactor.blocks = [dict(b) for b in checkpoint["blocks"]]
        compactor.system = from_json_data(list(checkpoint["system"]))
        compactor.recent = from_json_data(list(checkpoint["recent"]))
        return compactor
