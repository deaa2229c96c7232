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
    from ..session import SessionBudget
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
    if reservation is not None:
        reservation.commit(estimate, c.tokenizer.count(state.render()))
    return state, ""


def afford(
    c: Compactor, messages: list[Message], make: Callable[[], list[Message]]
) -> list[Message]:
    """``messages`` if the session budget can pay for them, else by ``c.on_exhausted``: raise,
    or the degraded request (pins, summary message, newest turn).

    Raises:
        BudgetExhausted: the policy is ``"raise"`` and the budget cannot pay.
    """
    c.degraded = False
    if c.budget is None or c.session is None:
        return messages
    status = c.budget.status(c.session)
    need = REPLY_PRIMING + sum(message_tokens(m, c.tokenizer) for m in messages)
    if status.remaining is None or status.remaining >= need:
        return messages
    if c.on_exhausted == "raise":
        raise BudgetExhausted(
            scope=status.scope,
            used=status.used,
            reserved=status.reserved,
            cap=status.cap or 0,
            requested=need,
        )
    c.degraded = True
    return make()
