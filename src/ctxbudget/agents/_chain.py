"""The Compactor's fallback chain: each strategy runs only if the ones before it left the
request over the low-water mark, so every compaction makes progress and none loops.

1. ``clear_tool_results``: tool results older than the newest ``keep_tool_results`` are
   archived and replaced by a one-line stub, only if that frees at least ``min_free_tokens``
   (an edit invalidates the prompt cache from that point on, so a small gain is not worth it;
   Anthropic's context editing clears tool results by the same rule).
2. ``summarize``: every turn but the last ``keep_last_turns`` is folded into the structured
   running summary by the configured summarizer and archived whole. If the summarizer raises,
   returns something that is not text, or returns nothing for a non-empty input,
   ``offline_summary`` does it with the offline extractive summarizer instead (the receipt is
   then ``partial`` and its note says what failed).
3. ``truncate``: if the compaction freed less than ``min_free_tokens`` or the request is still
   at the threshold, the oldest turns (the newest one always stays) are archived whole, without
   summary, down to the low-water mark.
4. ``clamp``: if the newest turn alone is over the room left for it, its largest messages
   with text are clamped (head and tail kept, the original archived).

Each step is tried at most once per compaction: the chain is finite by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .._errors import BudgetError
from ..messages import group_turns, message_text, message_tokens
from . import _spend
from ._clamp import clamp_message, smallest_clamp
from ._receipts import CompactionStep

if TYPE_CHECKING:
    from ._compaction import Compactor

__all__ = ["archive_block", "clamp_on_add", "newest_turn", "run"]

Message = Mapping[str, Any]
#: What replaces a cleared tool result's content.
CLEARED = "[tool result cleared: archived block {id}, {tokens:,} tokens]"


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


def archive_block(c: Compactor, messages: Sequence[Message], kind: str) -> str:
    """Put ``messages`` in the archive as one block and list it in the index."""
    tokens = sum(message_tokens(m, c.tokenizer) for m in messages)
    first_user = next((message_text(m.get("content")) for m in messages if m["role"] == "user"), "")
    description = f"{kind}: {' '.join(first_user.split())[:60]}".rstrip(": ")
    stamps = [s for s in (_stamp(m) for m in messages) if s is not None]
    start, end = (min(stamps), max(stamps)) if stamps else (None, None)
    block_id = c.archive.put(
        [dict(m) for m in messages],
        tokens=tokens,
        summary=description,
        source="conversation",
        start=start,
        end=end,
    )
    if all(b["id"] != block_id for b in c.blocks):  # the same content is one block
        c.blocks.append(
            {
                "id": block_id,
                "tokens": tokens,
                "description": description,
                "start": start.isoformat() if start else None,
                "end": end.isoformat() if end else None,
            }
        )
    return block_id


def is_tool_result(message: Message) -> bool:
    """Whether ``message`` carries a tool's result: an OpenAI ``tool`` message, an Anthropic
    message with a ``tool_result`` block, or a Gemini content with a ``functionResponse``."""
    if message.get("role") == "tool":
        return True
    parts = message.get("content")
    if not isinstance(parts, list):
        parts = message.get("parts")
    return isinstance(parts, list) and any(
        isinstance(p, Mapping) and (p.get("type") == "tool_result" or "functionResponse" in p)
        for p in parts
    )


def check_archivable(message: Message) -> None:
    """Raise :class:`~ctxbudget.ConfigurationError` unless ``message`` round-trips exactly
    through the archive's JSON (so a later compaction can always archive it)."""
    from .._errors import ArchiveError, ConfigurationError
    from ..memory._archive import _encode

    try:
        _encode(dict(message))
    except ArchiveError as exc:
        role = message.get("role")
        raise ConfigurationError(f"a {role!r} message cannot be archived exactly: {exc}") from None


def clamp_on_add(c: Compactor, message: Message, cost: int) -> Message:
    """``message`` (a tool result of ``cost`` tokens) clamped to ``tool_result_tokens``; the
    original archived and the receipt reported. Unchanged if it has no text to clamp."""
    out = clamp_message(
        message, c.tool_result_tokens, c.tokenizer, lambda m: archive_block(c, [m], "clamped")
    )
    if out is None:
        return message
    clamped, block_id = out
    tokens = message_tokens(clamped, c.tokenizer)
    _report(c, [CompactionStep("clamp", cost, tokens, (block_id,), 1)])
    return clamped


def _report(c: Compactor, steps: list[CompactionStep]) -> None:
    from ._receipts import Compaction

    first, last = steps[0], steps[-1]
    receipt = Compaction(
        block_id=first.archived[0] if first.archived else "",
        messages=0,
        tokens=0,
        summary_tokens=c.tokenizer.count(c.summary),
        fill_before=first.tokens_before / c.window_tokens,
        fill_after=last.tokens_after / c.window_tokens,
        tokens_before=first.tokens_before,
        tokens_after=last.tokens_after,
        steps=tuple(steps),
        trigger="overflow",
    )
    if c.on_compaction is not None:
        c.on_compaction(receipt)


def _turn_starts(recent: Sequence[Message]) -> list[int]:
    """Index of the first message of each turn (a unit that starts with a user message;
    messages before the first user message belong to the first turn)."""
    starts = [g[0] for g in group_turns(recent) if recent[g[0]]["role"] == "user"]
    if starts and starts[0] != 0:
        starts[0] = 0
    return starts or ([0] if recent else [])


def newest_turn(recent: Sequence[Message]) -> list[Message]:
    """The messages of the newest turn (from its user message on)."""
    starts = _turn_starts(recent)
    return list(recent[starts[-1] :]) if starts else []


def _clear_tool_results(c: Compactor, before: int) -> CompactionStep | None:
    tools = [i for i, m in enumerate(c.recent) if m["role"] == "tool"]
    old = tools[: max(0, len(tools) - c.keep_tool_results)]
    old = [
        i
        for i in old
        if not str(c.recent[i].get("content") or "").startswith("[tool result cleared")
    ]
    if not old:
        return None
    originals = [c.recent[i] for i in old]
    stubs = []
    freed = 0
    for m in originals:
        tokens = message_tokens(m, c.tokenizer)
        stub = dict(m, content=CLEARED.format(id="0" * 16, tokens=tokens))
        freed += tokens - message_tokens(stub, c.tokenizer)
        stubs.append(stub)
    if freed < c.min_free_tokens:
        return None
    block_id = archive_block(c, originals, f"{len(originals)} tool results cleared")
    recent = list(c.recent)
    for i, m in zip(old, originals, strict=True):
        tokens = message_tokens(m, c.tokenizer)
        recent[i] = dict(m, content=CLEARED.format(id=block_id, tokens=tokens))
    c.recent = recent
    return CompactionStep("clear_tool_results", before, c.tokens(), (block_id,), len(old))


def _items(messages: Sequence[Message]) -> list[str]:
    out = []
    for m in messages:
        text = message_text(m.get("content"))
        if text:
            out.append(f"{m['role']}: {text}")
    return out


def _fold(c: Compactor, before: int) -> list[CompactionStep]:
    starts = _turn_starts(c.recent)
    if len(starts) <= c.keep_last_turns:
        return []
    cut = starts[-c.keep_last_turns]
    old, kept = c.recent[:cut], c.recent[cut:]
    state, note = _spend.paid_merge(c, _items(old))
    strategy = "offline_summary" if note else "summarize"
    block_id = archive_block(c, old, f"{len(old)} messages compacted")
    c.state = state
    c.recent = kept
    after = c.tokens()
    return [CompactionStep(strategy, before, after, (block_id,), len(old), note)]  # type: ignore[arg-type]


def _truncate(c: Compactor, before: int, excess: float) -> CompactionStep | None:
    """Archive whole units (a message, or a tool call with its results), oldest first, until
    ``excess`` tokens are freed: first the turns before the newest, then the newest turn's
    own units but its opening message and its newest unit, then that opening message; the
    newest unit always stays."""
    units = group_turns(c.recent)
    if len(units) <= 1:
        return None
    opening = _turn_starts(c.recent)[-1]
    older = [u for u in units[:-1] if u[-1] < opening]
    inside = [u for u in units[:-1] if u[0] > opening]
    inside += [u for u in units[:-1] if u[0] == opening]  # the opening message: last resort
    costs = [message_tokens(m, c.tokenizer) for m in c.recent]
    drop: set[int] = set()
    for unit in older + inside:
        if sum(costs[i] for i in drop) >= excess:
            break
        drop.update(unit)
    if not drop:
        return None
    dropped = [m for i, m in enumerate(c.recent) if i in drop]
    block_id = archive_block(c, dropped, f"{len(dropped)} messages over the window")
    c.recent = [m for i, m in enumerate(c.recent) if i not in drop]
    return CompactionStep("truncate", before, c.tokens(), (block_id,), len(dropped))


def _clamp_newest(c: Compactor, before: int) -> CompactionStep | None:
    """Clamp the largest messages with text until the recent turns fit their room: each to
    what takes the excess away, or as far as it goes when one message cannot take it all."""
    # the summary message's ceiling, not its size now: archiving adds index lines
    room = c.budgets.room(sum(message_tokens(m, c.tokenizer) for m in c.system))
    costs = [message_tokens(m, c.tokenizer) for m in c.recent]
    if sum(costs) <= room:
        return None
    archived: list[str] = []
    recent = list(c.recent)
    for i in sorted(range(len(recent)), key=lambda k: -costs[k]):
        over = sum(costs) - room
        if over <= 0:
            break
        floor = smallest_clamp(recent[i], c.tokenizer)
        if floor is None or floor >= costs[i]:
            continue
        out = clamp_message(
            recent[i],
            max(costs[i] - over, floor),
            c.tokenizer,
            lambda m: archive_block(c, [m], "clamped"),
        )
        if out is None:
            continue
        recent[i], block_id = out
        costs[i] = message_tokens(recent[i], c.tokenizer)
        archived.append(block_id)
    c.recent = recent
    if sum(costs) > room:
        raise BudgetError(
            f"the newest unit needs {sum(costs)} tokens in {len(costs)} messages but {room} "
            f"are free in the {c.window_tokens}-token window, over the budget of "
            f"{c.window_tokens}, with every text clamped as far as it goes: raise "
            f"window_tokens, or send fewer or smaller tool calls in one unit"
        )
    return CompactionStep("clamp", before, c.tokens(), tuple(archived), len(archived))


def run(c: Compactor, before: int, *, manual: bool = False) -> list[CompactionStep]:
    """Run the chain on ``c`` (whose request has ``before`` tokens); the steps that ran.
    ``manual``: fold old turns even when the request is already under the low-water mark."""
    target = c.low_water * c.window_tokens
    threshold = c.threshold * c.window_tokens
    steps: list[CompactionStep] = []
    step = _clear_tool_results(c, before)
    if step is not None:
        steps.append(step)
    if manual or c.tokens() > target:
        steps += _fold(c, c.tokens())
    now = c.tokens()
    pins = sum(message_tokens(m, c.tokenizer) for m in c.system)
    # the room for recent turns beside every other part at its ceiling
    over_room = sum(message_tokens(m, c.tokenizer) for m in c.recent) - c.budgets.room(pins)
    if over_room > 0 or (now > target and (before - now < c.min_free_tokens or now >= threshold)):
        step = _truncate(c, now, max(now - target, over_room))
        if step is not None:
            steps.append(step)
    step = _clamp_newest(c, c.tokens())
    if step is not None:
        steps.append(step)
    return steps
