"""guard: wrap any LLM call in a reservation, so a call that cannot be afforded never starts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypeVar

from .._errors import BudgetExhausted, ConfigurationError
from .._telemetry import note, traced
from ..messages import Prompt, count_prompt
from ._async import AsyncReservation
from ._budget import SessionBudget
from ._calibration import observe_call
from ._reservation import Reservation
from ._usage import Usage, usage_of

__all__ = ["aguard", "guard", "usage_of"]

log = logging.getLogger("ctxbudget.session")

T = TypeVar("T")

#: What ``guard(usage=...)`` returns: a :class:`Usage`, an ``(input, output)`` pair (the older
#: form), or ``None`` when the response reports no usage.
UsageReader = Callable[[T], Usage | tuple[int, int] | None]


def _prepare(
    budget: SessionBudget,
    prompt: Prompt,
    max_output_tokens: int,
    ids: Mapping[str, Any],
    bill_on_error: object,
) -> tuple[Reservation, tuple[int, int]]:
    """Check the policy, estimate the prompt, reserve; ``(reservation, (input, output))``."""
    _check_policy(bill_on_error)
    estimate = count_prompt(prompt, budget.tokenizer)
    reservation = budget.reserve(estimate + max_output_tokens, **ids)
    note("reserved", reservation.tokens)
    return reservation, (estimate, max_output_tokens)


#: What a call that raised is charged (see :func:`guard`).
BillOnError = Literal["input", "estimate", "none"]
_BILL_ON_ERROR = ("input", "estimate", "none")


def _check_policy(bill_on_error: object) -> None:
    if bill_on_error not in _BILL_ON_ERROR:
        raise ConfigurationError(
            f"bill_on_error must be one of {', '.join(map(repr, _BILL_ON_ERROR))}, "
            f"got {bill_on_error!r}"
        )


def _failed(
    reservation: Reservation,
    estimate: tuple[int, int],
    model: str | None,
    policy: BillOnError,
) -> None:
    """Settle the reservation of a call that raised, by ``policy``."""
    if policy == "none":
        reservation.rollback()
    elif policy == "estimate":
        reservation.commit(*estimate, model)
    else:
        reservation.commit(estimate[0], 0, model)


def _observe(budget: object, conversation: str | None, tokens: int) -> None:
    """Feed ``tokens`` (the conversation's context after a call) to the conversation's
    :class:`~ctxbudget.ContextWindow`, if :meth:`SessionBudget.context_window` made one: the
    summarization trigger then runs on observed usage, without the caller feeding it."""
    if conversation is None or not isinstance(budget, SessionBudget):
        return
    with budget._lock:
        window = budget._windows.get(conversation)
    if window is None:
        return
    try:
        window.observe(tokens)
    except Exception:  # the summarize callback is user code; the call itself succeeded
        log.exception("the summarization trigger of conversation %r failed", conversation)


def _succeeded(
    reservation: Reservation,
    response: T,
    usage: UsageReader[T],
    estimate: tuple[int, int],
    model: str | None,
    *,
    conversation: str | None,
) -> T:
    """Commit what the response reports (with its own model when the caller gave none), or
    the estimate when it reports nothing, and feed the conversation's summarization trigger."""
    reported = usage(response)
    if reported is not None:
        input_tokens, output_tokens = reported
        context = input_tokens + output_tokens  # the next request starts from both
    else:
        context = estimate[0]
    try:
        _settle(reservation, reported, estimate, model)
    finally:  # the spend is recorded first: a failing summarize callback cannot lose it
        _observe(reservation._budget, conversation, context)
    return response


def _settle(
    reservation: Reservation,
    reported: Usage | tuple[int, int] | None,
    estimate: tuple[int, int],
    model: str | None,
) -> None:
    if isinstance(reported, Usage):
        reservation.commit_usage(reported, model)
        budget = reservation._budget
        observe_call(
            budget.ledger,
            getattr(budget, "tokenizer", None),
            model or reported.model,
            estimate[0],
            reported.input_tokens,
        )
    else:
        reservation.commit(*(reported or estimate), model)


@traced("ctxbudget.guard")
def guard(
    budget: SessionBudget,
    call: Callable[[], T],
    *,
    prompt: Prompt,
    max_output_tokens: int,
    session: str,
    user: str | None = None,
    conversation: str | None = None,
    model: str | None = None,
    fallback: Callable[[BudgetExhausted], T] | None = None,
    usage: UsageReader[T] = usage_of,
    bill_on_error: BillOnError = "input",
) -> T:
    """Reserve, call, commit: an LLM call that can never overspend its budget.

    1. Estimates the prompt with the budget's tokenizer (chat overhead included) and reserves
       it plus ``max_output_tokens``.
    2. Calls ``call()``; commits the usage the response reports (``usage``: every shape of
       :func:`usage_of`, cached input apart, priced at its own rate), with the response's
       model when ``model`` is not given; or the estimate (prompt estimate,
       ``max_output_tokens``) when it reports none.
    3. If the call raises (a timeout, a dropped connection, a 5xx, a cancellation...), settles
       by ``bill_on_error`` and re-raises. guard cannot tell whether the request reached the
       provider, and providers bill the input of requests they received even when the answer
       never arrives, so the default bills the prompt estimate as input.
    4. With a ``conversation`` whose :class:`~ctxbudget.ContextWindow` exists (made by
       :meth:`SessionBudget.context_window`), feeds it the call's reported input plus output
       tokens (the context the next request starts from; the prompt estimate when nothing is
       reported), so the summarization trigger runs on observed usage.

    Args:
        budget: the session budget.
        call: the LLM call, with no arguments.
        prompt: the prompt text or chat messages, to estimate input tokens.
        max_output_tokens: the call's output limit, in tokens.
        session, user, conversation: the scopes to charge.
        model: for the cost estimate; default the model the response names.
        fallback: called with the :class:`~ctxbudget.BudgetExhausted` instead of raising it
            (graceful degradation: a cheaper model, a cached answer...).
        usage: reads the response's :class:`Usage` (or an ``(input, output)`` pair).
        bill_on_error: what a call that raised is charged: ``"input"`` (default) the prompt
            estimate as input tokens; ``"estimate"`` the whole reservation (prompt estimate
            plus ``max_output_tokens``, for providers that bill a broken stream's output);
            ``"none"`` nothing (the reservation is rolled back; for calls known never to
            have left the process).

    Returns:
        What ``call`` (or ``fallback``) returns.

    Raises:
        BudgetExhausted: when exhausted and no ``fallback`` is given.
        ConfigurationError: ``bill_on_error`` is not one of the three policies.
        LedgerError: the ledger failed.
        Exception: whatever ``call`` raises, after the reservation is settled.
    """
    ids = {"session": session, "user": user, "conversation": conversation}
    try:
        reservation, estimate = _prepare(budget, prompt, max_output_tokens, ids, bill_on_error)
    except BudgetExhausted as exc:
        if fallback is None:
            raise
        return fallback(exc)
    try:
        response = call()
    except BaseException:
        _failed(reservation, estimate, model, bill_on_error)
        raise
    return _succeeded(reservation, response, usage, estimate, model, conversation=conversation)


@traced("ctxbudget.guard")
async def aguard(
    budget: SessionBudget,
    call: Callable[[], Awaitable[T]],
    *,
    prompt: Prompt,
    max_output_tokens: int,
    session: str,
    user: str | None = None,
    conversation: str | None = None,
    model: str | None = None,
    fallback: Callable[[BudgetExhausted], Awaitable[T]] | None = None,
    usage: UsageReader[T] = usage_of,
    bill_on_error: BillOnError = "input",
) -> T:
    """:func:`guard` for an async call (and an async ``fallback``); same rules and errors.

    The reservation and its commit (or the settlement of a failed call) are awaited through
    the async API (:meth:`SessionBudget.areserve`: natively on Redis, in a worker thread on
    the other ledgers), so the event loop never waits for the ledger (a SQLite write lock
    held by another process, a network round trip); the prompt is counted, and the
    conversation's summarization trigger fed, in a worker thread. A call cancelled while it
    runs is settled as a call that raised (``bill_on_error``), and the cancellation
    propagates.
    """
    _check_policy(bill_on_error)
    try:
        prompt_tokens = await asyncio.to_thread(count_prompt, prompt, budget.tokenizer)
        tokens = prompt_tokens + max_output_tokens
        held = await budget.areserve(tokens, session=session, user=user, conversation=conversation)
    except BudgetExhausted as exc:
        if fallback is None:
            raise
        return await fallback(exc)
    note("reserved", held.tokens)
    estimate = (prompt_tokens, max_output_tokens)
    try:
        response = await call()
    except BaseException:
        await asyncio.shield(_afailed(held, estimate, model, bill_on_error))
        raise
    reported = usage(response)
    context = estimate[0]
    if reported is not None:
        input_tokens, output_tokens = reported
        context = input_tokens + output_tokens  # the next request starts from both
    try:
        if isinstance(reported, Usage):
            await held.acommit_usage(reported, model)
            tokenizer = getattr(budget, "tokenizer", None)
            calibrated = model or reported.model
            ledger = held.sync._budget.ledger
            args = (ledger, tokenizer, calibrated, estimate[0], reported.input_tokens)
            await asyncio.to_thread(observe_call, *args)
        else:
            await held.acommit(*(reported or estimate), model)
    finally:  # the spend is recorded first: a failing summarize callback cannot lose it
        await asyncio.to_thread(_observe, held.sync._budget, conversation, context)
    return response


async def _afailed(
    held: AsyncReservation, estimate: tuple[int, int], model: str | None, policy: BillOnError
) -> None:
    """:func:`_failed`, awaited."""
    if policy == "none":
        await held.arollback()
    elif policy == "estimate":
        await held.acommit(*estimate, model)
    else:
        await held.acommit(estimate[0], 0, model)
