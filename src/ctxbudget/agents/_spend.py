"""The Compactor and the session budget: LLM summaries paid for like any call, and what
:meth:`Compactor.step` does when the budget cannot pay for the next request.

- A summary written by a summarizer other than the offline one is reserved first (its input,
  the previous summary and the folded items, estimated with the compactor's tokenizer, plus
  ``summary_tokens`` of output) and committed with the estimated input and the summary's exact
  tokens. If the reservation is refused, the offline summarizer writes the summary instead and
  the receipt is ``partial``, its note naming the scope that refused.
- When the session budget's room (:attr:`BudgetStatus.remaining`) is smaller than the next
  request, the policy decides: ``"raise"`` raises :class:`~ctxbudget.BudgetExhausted`;
  ``"degrade"`` returns the smallest request that still carries the conversation (the system
  messages, the summary message and the newest turn; the budget indicator is left out) and sets
  :attr:`Compactor.degraded`. The history is not changed either way: the next affordable
  request is the full one again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .._errors import BudgetExhausted, ConfigurationError
from ..memory._state import SummaryState
from ..memory._summarize import ExtractiveSummarizer, merge_summary
from ..messages import REPLY_PRIMING, message_tokens

if TYPE_CHECKING:
    from ..session import BudgetStatus, SessionBudget
    from ._compaction import Compactor

__all__ = ["OnExhausted", "afford", "check_budget", "paid_merge"]

#: What :meth:`Compactor.step` does when the session budget cannot pay for the next request.
OnExhausted = Literal["raise", "degrade"]
#: Tokens a summarizer's prompt adds around the items (its instructions), estimated.
_PROMPT_OVERHEAD = 64

Message = Mapping[str, Any]


def check_budget(budget: SessionBudget | None, session: str | None, on_exhausted: object) -> None:
    """Check the Compactor's budget arguments.

    Raises:
        ConfigurationError: a budget without a session, or an unknown policy.
    """
    if on_exhausted not in ("raise", "degrade"):
        raise ConfigurationError(f"on_exhausted must be 'raise' or 'degrade', got {on_exhausted!r}")
    if budget is not None and not session:
        raise ConfigurationError("a Compactor with a session budget needs session=")


def paid_merge(c: Compactor, items: Sequence[str]) -> tuple[SummaryState, str]:
    """The new running summary of ``c`` with ``items`` folded in, and a note (``""``: the
    configured summarizer wrote it and was paid for; else why the offline one did).

    Raises:
        Exception: whatever the offline summarizer raises (the configured one's errors are
            caught and reported in the note).
    """

    def merge(summarizer: Any) -> SummaryState:
        return merge_summary(summarizer, c.state, items, c.summary_tokens, tokenizer=c.tokenizer)

    def offline(why: str) -> tuple[SummaryState, str]:
        note = f"{why}; the offline summarizer wrote the summary"
        return merge(c.offline), note

    name = type(c.summarizer).__name__
    paid = c.budget is not None and not isinstance(c.summarizer, ExtractiveSummarizer)
    reservation = None
    estimate = 0
    if paid:
        assert c.budget is not None
        assert c.session is not None
        estimate = _PROMPT_OVERHEAD + c.tokenizer.count(c.summary)
        estimate += sum(c.tokenizer.count(item) + 1 for item in items)
        try:
            reservation = c.budget.reserve(
                estimate + c.summary_tokens,
                session=c.session,
                user=c.user,
                conversation=c.conversation,
            )
        except BudgetExhausted as exc:
            return offline(f"the session budget could not pay for a {name} summary ({exc})")
    try:
        state = merge(c.summarizer)
        if items and not state.render().strip():
            raise ValueError(
                "its answer left nothing within the summary budget (empty, or lines too long)"
            )
    except Exception as exc:  # the summarizer is user code: any failure falls back
        if reservation is not None:
            reservation.commit(estimate, 0)  # the call was made: its input is billed
        return offline(f"{name} failed ({type(exc).__name__}: {exc})")
    except BaseException:  # an interrupt: settle the hold, then let it through
        if reservation is not None:
            reservation.commit(estimate, 0)
        raise
    if reservation is not None:
        reservation.commit(estimate, c.tokenizer.count(state.render()))
    return state, ""


def afford(
    c: Compactor, messages: list[Message], make: Callable[[], list[Message]]
) -> list[Message]:
    """``messages`` if the session budget can pay for them, else by ``c.on_exhausted``: raise,
    or the degraded request (pins, summary message, newest turn).

    Raises:
        BudgetExhausted: the budget cannot pay (policy "raise"), or cannot pay even for the
            degraded request (policy "degrade").
    """
    c.degraded = False
    if c.budget is None or c.session is None:
        return messages
    need = REPLY_PRIMING + sum(message_tokens(m, c.tokenizer) for m in messages)
    short = _shortest(c, need)
    if short is None:
        return messages
    degraded = make()
    if c.on_exhausted == "degrade":
        small = REPLY_PRIMING + sum(message_tokens(m, c.tokenizer) for m in degraded)
        if _shortest(c, small) is None:
            c.degraded = True
            return degraded
        need, short = small, _shortest(c, small)
    assert short is not None
    raise BudgetExhausted(
        scope=short.scope,
        used=short.used,
        reserved=short.reserved,
        cap=short.cap or 0,
        requested=need,
    )


def _shortest(c: Compactor, need: int) -> BudgetStatus | None:
    """The first scope of the compactor's (session, user, conversation, global) whose room
    is less than ``need`` tokens, or ``None`` when every one can pay."""
    assert c.budget is not None
    statuses = [c.budget.status(c.session)]
    if c.user is not None:
        statuses.append(c.budget.status(user=c.user))
    if c.conversation is not None:
        statuses.append(c.budget.status(conversation=c.conversation))
    statuses.append(c.budget.status(scope="global"))
    return next((s for s in statuses if s.remaining is not None and s.remaining < need), None)
