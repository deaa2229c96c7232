"""guard: wrap any LLM call in a reservation, so a call that cannot be afforded never starts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from .._errors import BudgetExhausted
from ..messages import Prompt, count_prompt
from ._budget import SessionBudget
from ._reservation import Reservation

__all__ = ["aguard", "guard", "usage_of"]

T = TypeVar("T")


def usage_of(response: Any) -> tuple[int, int] | None:
    """``(input_tokens, output_tokens)`` a response reports, or ``None``.

    Understands OpenAI (``usage.prompt_tokens``/``completion_tokens``), Anthropic
    (``usage.input_tokens``/``output_tokens``), and the same keys in dicts.
    """
    usage = (
        response.get("usage") if isinstance(response, Mapping) else getattr(response, "usage", None)
    )
    if usage is None:
        return None

    def field(name: str) -> Any:
        return usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, None)

    for inp, out in (("prompt_tokens", "completion_tokens"), ("input_tokens", "output_tokens")):
        a, b = field(inp), field(out)
        if all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (a, b)):
            return a, b
    return None


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or any(
        "Timeout" in cls.__name__ for cls in type(exc).__mro__
    )


def _prepare(
    budget: SessionBudget, prompt: Prompt, max_output_tokens: int, ids: Mapping[str, Any]
) -> tuple[Reservation, int]:
    estimate = count_prompt(prompt, budget.tokenizer)
    return budget.reserve(estimate + max_output_tokens, **ids), estimate


def _failed(reservation: Reservation, estimate: int, model: str | None, exc: BaseException) -> None:
    """Timeouts bill the prompt estimate (providers bill input); other failures cost nothing."""
    if _is_timeout(exc):
        reservation.commit(estimate, 0, model)
    else:
        reservation.rollback()


def _succeeded(
    reservation: Reservation,
    response: T,
    usage: Callable[[T], tuple[int, int] | None],
    estimate: tuple[int, int],
    model: str | None,
) -> T:
    reservation.commit(*(usage(response) or estimate), model)
    return response


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
    usage: Callable[[T], tuple[int, int] | None] = usage_of,
) -> T:
    """Reserve, call, commit: an LLM call that can never overspend its budget.

    1. Estimates the prompt with the budget's tokenizer (chat overhead included) and reserves
       it plus ``max_output_tokens``.
    2. Calls ``call()``; commits the usage the response reports (``usage``), or the estimate
       (prompt estimate, ``max_output_tokens``) when it reports none.
    3. If the call times out (``TimeoutError`` or an exception class named ``*Timeout*``, as in
       httpx and the OpenAI SDK), commits the prompt estimate: providers bill input. Any other
       exception rolls the reservation back (a failed call costs nothing) and propagates.

    Args:
        budget: the session budget.
        call: the LLM call, with no arguments.
        prompt: the prompt text or chat messages, to estimate input tokens.
        max_output_tokens: the call's output limit, in tokens.
        session, user, conversation: the scopes to charge.
        model: for the cost estimate.
        fallback: called with the :class:`~ctxbudget.BudgetExhausted` instead of raising it
            (graceful degradation: a cheaper model, a cached answer...).
        usage: reads ``(input_tokens, output_tokens)`` from the response.

    Returns:
        What ``call`` (or ``fallback``) returns.

    Raises:
        BudgetExhausted: when exhausted and no ``fallback`` is given.
        LedgerError: the ledger failed.
    """
    ids = {"session": session, "user": user, "conversation": conversation}
    try:
        reservation, estimate = _prepare(budget, prompt, max_output_tokens, ids)
    except BudgetExhausted as exc:
        if fallback is None:
            raise
        return fallback(exc)
    try:
        response = call()
    except BaseException as exc:
        _failed(reservation, estimate, model, exc)
        raise
    return _succeeded(reservation, response, usage, (estimate, max_output_tokens), model)


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
    usage: Callable[[T], tuple[int, int] | None] = usage_of,
) -> T:
    """:func:`guard` for an async call (and an async ``fallback``); same rules and errors."""
    ids = {"session": session, "user": user, "conversation": conversation}
    try:
        reservation, estimate = _prepare(budget, prompt, max_output_tokens, ids)
    except BudgetExhausted as exc:
        if fallback is None:
            raise
        return await fallback(exc)
    try:
        response = await call()
    except BaseException as exc:
        _failed(reservation, estimate, model, exc)
        raise
    return _succeeded(reservation, response, usage, (estimate, max_output_tokens), model)
