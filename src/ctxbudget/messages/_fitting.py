"""Chat histories within a token budget: keep system and pinned messages and the newest turns.

Works on every message format of :mod:`ctxbudget.messages._formats`. The history is walked
from the newest message and only what can reach the window is counted, with a shared count
cache, so the cost follows the window, not the stored history. A message that must stay with
the one before it (a tool result with its call, parallel calls, a reasoning item with its
call) is kept or dropped with it: a *unit*.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._errors import BudgetError, ConfigurationError
from .._validate import whole_number
from ..tokenizers import CachedTokenizer, CountCache, get_tokenizer
from ..typing import Tokenizer
from ._formats import MessageFormat, as_text, resolve_format
from ._units import Units, pinned_indices

__all__ = ["COUNTS", "FittedMessages", "count_prompt", "counting", "fit_messages", "message_tokens"]

#: Counts shared by every fit and count (an agent loop re-fits the same history every turn).
COUNTS = CountCache(200_000)


def counting(tokenizer: Any) -> Tokenizer:
    """The tokenizer behind ``tokenizer``, with counts through the shared :data:`COUNTS`."""
    tok = get_tokenizer(tokenizer)
    return tok if isinstance(tok, CachedTokenizer) else CachedTokenizer(tok, COUNTS)


@dataclass(frozen=True)
class FittedMessages:
    """The messages kept, in their original order, and what was dropped.

    Attributes:
        messages: the kept messages: the same objects as given (a message changed by a repair
            is a copy, listed in ``repairs``).
        tokens: their cost by the format's rule, reply priming and ``system`` included;
            <= ``max_tokens``.
        max_tokens: the budget, in tokens.
        dropped: the dropped messages, in their original order.
        estimated: whether the count holds estimates (tool calls, media of unknown size, or
            a format whose provider publishes no rule); estimates are upper bounds where the
            provider documents one.
        format: the message format used (``"openai"``, ``"responses"``, ``"anthropic"``,
            ``"gemini"`` or ``"langchain"``).
        repairs: what was changed to keep the history valid (orphan results removed...).
    """

    messages: list[Any]
    tokens: int
    max_tokens: int
    dropped: list[Any] = field(default_factory=list)
    estimated: bool = False
    format: str = "openai"
    repairs: list[str] = field(default_factory=list)


def _fixed_cost(fmt: MessageFormat, tok: Tokenizer, system: Any) -> int:
    return fmt.priming + (tok.count(as_text(system)) if system is not None else 0)


def window_budget(max_tokens: object, model: str | None) -> int:
    """``max_tokens`` as a whole number of tokens; ``"model"``: the model's window from the
    model catalogue (:func:`ctxbudget.models.window_for`).

    Raises:
        ConfigurationError: not a whole number >= 1, or ``"model"`` without a known ``model``.
    """
    from ..models import cap_for

    return whole_number(cap_for(max_tokens, model), "max_tokens", unit="tokens")


def fit_messages(
    messages: Sequence[Any],
    max_tokens: int | Literal["model"],
    *,
    format: str | MessageFormat = "auto",
    tokenizer: Any = "o200k_base",
    pinned: Collection[Any] = (),
    system: Any = None,
    keep: Literal["last"] = "last",
    start_on: Literal["user", "any"] = "user",
    repair: bool = True,
    model: str | None = None,
) -> FittedMessages:
    """Keep the system and pinned messages and the newest turns of a history within
    ``max_tokens``.

    A tool call is never separated from its results (parallel calls included), the kept
    history never starts with a result whose call was dropped (nor, with
    ``start_on="user"``, a trimmed history with anything but a user message), and the newest
    turn is always kept. When everything fits, ``tokens`` equals :func:`count_prompt` of the
    messages. Only messages the walk from the newest reaches are counted.

    Args:
        messages: the history, oldest first, in one format (see ``format``).
        max_tokens: the budget in tokens, overhead, reply priming and ``system`` included;
            ``"model"`` takes ``model``'s input window from the model catalogue (leave room
            for the reply yourself when the window is shared with output).
        format: ``"auto"`` (detected), ``"openai"``, ``"responses"``, ``"anthropic"``,
            ``"gemini"`` or ``"langchain"``.
        tokenizer: the tokenizer spec or object (a proxy for providers without a public one).
        pinned: messages never dropped, with their unit: indices, message ids, or the
            message objects.
        system: a system prompt given apart from the messages (Anthropic's ``system``,
            Gemini's ``system_instruction``), counted as fixed cost.
        keep: ``"last"``: keep the newest turns (the only strategy).
        start_on: ``"user"`` (default) makes a trimmed history start at a user message.
        repair: remove, from the kept messages, results whose call is not in the history and
            calls left without results before the newest turn (copies; see ``repairs``).
        model: the model, for ``max_tokens="model"``.

    Returns:
        A :class:`FittedMessages` whose ``tokens`` never exceed ``max_tokens``.

    Raises:
        ConfigurationError: a message is malformed, ``format`` or ``keep`` is unknown,
            ``max_tokens`` is invalid, or a pin names no message.
        BudgetError: the system and pinned messages plus the newest turn alone exceed
            ``max_tokens`` (the message gives the numbers).
    """
    max_tokens = window_budget(max_tokens, model)
    if keep != "last":
        raise ConfigurationError(f"keep must be 'last', got {keep!r}")
    fmt = resolve_format(messages, format)
    tok = counting(tokenizer)
    units = Units(messages, fmt)  # reads every role (checked where the format cannot be sure)
    cost: dict[int, int] = {}

    def unit_cost(unit: range) -> int:
        total = 0
        for i in unit:
            if i not in cost:
                fmt.check(messages[i], i)
                cost[i] = fmt.cost(messages[i], tok)
            total += cost[i]
        return total

    pins = pinned_indices(messages, pinned)
    pinned_units = {
        range(s, units.end_of(s) + 1)
        for s in {units.start_of(i) for i in pins if units.roles[i] != "system"}
    }
    fixed = _fixed_cost(fmt, tok, system)
    fixed += sum(unit_cost(range(i, i + 1)) for i in units.system)
    fixed += sum(unit_cost(u) for u in pinned_units)
    if fixed > max_tokens:
        raise BudgetError(
            f"the system messages and {len(pins)} pinned messages alone cost {fixed} tokens, "
            f"over the budget of {max_tokens}: pin fewer messages or raise max_tokens"
        )
    in_pins = {i for u in pinned_units for i in u}
    used = fixed
    kept: list[range] = []
    walked = 0
    trimmed = False
    for unit in units.newest_first():
        walked += 1
        if unit.start in in_pins:
            continue
        c = unit_cost(unit)
        if kept and used + c > max_tokens:
            trimmed = True
            break
        kept.append(unit)
        used += c
    # never start with an orphan result, nor (start_on="user") a trimmed history that does
    # not start with a user message
    while len(kept) > 1 and (
        units.orphans(kept[-1])
        or (trimmed and start_on == "user" and units.roles[kept[-1].start] != "user")
    ):
        used -= unit_cost(kept.pop())
    if used > max_tokens:
        raise BudgetError(
            f"the system messages, pinned messages and the newest turn alone cost {used} "
            f"tokens, over the budget of {max_tokens}: raise max_tokens or summarize"
        )
    keep_set = set(units.system) | in_pins | {i for u in kept for i in u}
    out = {i: messages[i] for i in sorted(keep_set)}
    repairs: list[str] = []
    if repair:
        newest = kept[0] if kept else None
        for unit in [*kept, *pinned_units]:
            used -= _repair_unit(
                units, unit, out=out, repairs=repairs, cost=cost, tok=tok, last=unit == newest
            )
    estimated = any(fmt.estimated(m) for m in out.values())
    return FittedMessages(
        messages=list(out.values()),
        tokens=used,
        max_tokens=max_tokens,
        dropped=_dropped(messages, sorted(keep_set)),
        estimated=estimated,
        format=fmt.name,
        repairs=repairs,
    )


def _dropped(messages: Sequence[Any], kept: list[int]) -> list[Any]:
    """The messages not at the sorted positions ``kept``, in order (by slices)."""
    out: list[Any] = []
    previous = -1
    for i in kept:
        out.extend(messages[previous + 1 : i])
        previous = i
    out.extend(messages[previous + 1 :])
    return out


def _repair_unit(
    units: Units,
    unit: range,
    *,
    out: dict[int, Any],
    repairs: list[str],
    cost: dict[int, int],
    tok: Tokenizer,
    last: bool,
) -> int:
    """Remove orphan answers (and, but in the newest unit, unanswered calls) from a kept unit's
    messages in ``out``; returns the tokens saved."""
    fmt = units.fmt
    orphans = units.orphans(unit)
    unanswered = set() if last else units.unanswered(unit)
    if not orphans and not unanswered:
        return 0
    saved = 0
    for i in unit:
        m = out.get(i)
        if m is None:
            continue
        mine_a = orphans & set(fmt.answers(m))
        mine_c = unanswered & set(fmt.calls(m))
        if not mine_a and not mine_c:
            continue
        new: Any = m
        if mine_a:
            new = fmt.without_answers(new, mine_a)
        if mine_c and new is not None:
            new = fmt.without_calls(new, mine_c)
        before = cost[i]
        if new is None:
            del out[i]
            saved += before
            repairs.append(
                f"message {i}: dropped (its tool call ids {sorted(mine_a | mine_c)} "
                f"have no {'call' if mine_a else 'result'} in the history)"
            )
        else:
            out[i] = new
            saved += before - fmt.cost(new, tok)
            repairs.append(
                f"message {i}: removed tool call ids {sorted(mine_a | mine_c)} "
                f"without a {'call' if mine_a else 'result'}"
            )
    return saved


def count_prompt(
    prompt: str | Sequence[Any],
    tokenizer: Any = "o200k_base",
    *,
    format: str | MessageFormat = "auto",
    system: Any = None,
) -> int:
    """Tokens of a prompt: a string, or messages with their format's overhead, the reply
    priming and ``system`` (the same rule and total as :func:`fit_messages`).

    Raises:
        ConfigurationError: a message is malformed or the format unknown.
    """
    tok = counting(tokenizer)
    if isinstance(prompt, str):
        return tok.count(prompt)
    fmt = resolve_format(prompt, format)
    total = _fixed_cost(fmt, tok, system)
    for i, message in enumerate(prompt):
        fmt.check(message, i)
        total += fmt.cost(message, tok)
    return total


def message_tokens(
    message: Any,
    tokenizer: Any = "o200k_base",
    *,
    format: str | MessageFormat = "auto",
) -> int:
    """Tokens one message costs, its overhead included, by its format's rule.

    Raises:
        ConfigurationError: the message is malformed or the format unknown.
    """
    fmt = resolve_format([message], format)
    fmt.check(message, 0)
    return fmt.cost(message, counting(tokenizer))
