"""litellm calls on a :class:`~ctxbudget.SessionBudget` (``pip install 'ctxbudget[litellm]'``).

:class:`BudgetLogger` is a litellm ``CustomLogger`` with two roles:

- **the callback**: ``litellm.callbacks = [logger]`` records every successful call's reported
  usage (``response.usage``: prompt, completion, cached prompt tokens) on the budget, after the
  fact (litellm runs success callbacks in the background: the record lands shortly after the
  call returns). Nothing is checked before such a call.
- **the pre-call reservation**: ``logger.completion(...)`` / ``await logger.acompletion(...)``
  take ``litellm.completion`` / ``acompletion``'s arguments and run the call inside
  :func:`~ctxbudget.guard` / :func:`~ctxbudget.aguard`: the prompt estimate plus ``max_tokens``
  (or the logger's ``max_output_tokens``) is reserved atomically *before* the call, a call that
  would pass a cap raises :class:`~ctxbudget.BudgetExhausted` and never starts, and the usage
  the response reports is committed when it returns. The callback leaves those calls alone,
  so nothing is counted twice.

- **the async pre-call hook**: with the logger in ``litellm.callbacks``, a plain
  ``await litellm.acompletion(...)`` is reserved too, before the request (litellm awaits
  ``async_pre_call_deployment_hook`` of every callback and lets its error through): over a cap
  it raises :class:`~ctxbudget.BudgetExhausted` and is never sent; the success callback
  commits the reported usage into that reservation, the failure callback bills the prompt
  estimate as input.

litellm gives a ``CustomLogger`` no hook that can stop a plain sync ``litellm.completion``
(its ``log_pre_api_call`` errors are logged and swallowed), so refusing a sync call needs
:meth:`BudgetLogger.completion`.

Scopes: the logger's ``session`` / ``user`` / ``conversation``, overridden per call by
``metadata={"ctxbudget_session": ..., "ctxbudget_user": ..., "ctxbudget_conversation": ...}``.

>>> logger = BudgetLogger(budget, session="s1")  # doctest: +SKIP
>>> litellm.callbacks = [logger]  # doctest: +SKIP
>>> reply = logger.completion(model="gpt-4o", messages=messages)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError, CtxBudgetError
from .._validate import whole_number
from ..messages import count_prompt
from ..session import aguard, guard, usage_of

try:
    import litellm
    from litellm.integrations.custom_logger import CustomLogger
except ImportError as exc:  # pragma: no cover - exercised where litellm is absent
    raise CtxBudgetError(
        "the litellm adapter needs litellm: pip install 'ctxbudget[litellm]'"
    ) from exc

if TYPE_CHECKING:
    from ..session import AsyncReservation, SessionBudget, Usage

__all__ = ["BudgetLogger"]

log = logging.getLogger("ctxbudget.integrations.litellm")

#: The metadata key that marks a call made through :meth:`BudgetLogger.completion`.
RESERVED = "ctxbudget_reserved"
_SCOPES = ("session", "user", "conversation")


class BudgetLogger(CustomLogger):
    """A litellm callback that records usage on ``budget``, and a reserving ``completion``.

    Args:
        budget: the session budget to spend on.
        session: the default session scope (required: every call is charged to a session).
        user, conversation: the default user and conversation scopes.
        max_output_tokens: what :meth:`completion` reserves for the answer when the call
            gives no ``max_tokens`` / ``max_completion_tokens``, in tokens.

    The callback cannot fail the call it records (the call has happened): an error while
    recording (a ``LedgerError``) is logged by litellm, which catches every callback error.

    Raises:
        ConfigurationError: ``session`` is not a non-empty string, or ``max_output_tokens``
            is not a whole number >= 1.
    """

    def __init__(
        self,
        budget: SessionBudget,
        *,
        session: str,
        user: str | None = None,
        conversation: str | None = None,
        max_output_tokens: int = 1024,
    ) -> None:
        if not isinstance(session, str) or not session:
            raise ConfigurationError(f"session must be a non-empty string, got {session!r}")
        super().__init__()
        self.budget = budget
        self.scopes: dict[str, str | None] = {
            "session": session,
            "user": user,
            "conversation": conversation,
        }
        self.max_output_tokens = whole_number(
            max_output_tokens, "max_output_tokens", minimum=1, unit="tokens"
        )
        #: Reservations of plain async calls, by litellm call id: (hold, prompt estimate).
        self._held: dict[str, tuple[AsyncReservation, int]] = {}

    # -- scopes and usage --------------------------------------------------------------------

    def _ids(self, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
        ids = dict(self.scopes)
        for scope in _SCOPES:
            value = (metadata or {}).get(f"ctxbudget_{scope}")
            if value is not None:
                ids[scope] = value
        return ids

    @staticmethod
    def _metadata(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        params = kwargs.get("litellm_params") or {}
        metadata = params.get("metadata") if isinstance(params, Mapping) else None
        return metadata if isinstance(metadata, Mapping) else {}

    def _to_record(
        self, kwargs: Mapping[str, Any], response: Any
    ) -> tuple[Usage, dict[str, Any]] | None:
        """The usage to record for a finished call and its scopes, or ``None`` (the call was
        reserved by :meth:`completion`, or reports no usage: logged)."""
        metadata = self._metadata(kwargs)
        if metadata.get(RESERVED):
            return None
        usage = usage_of(response)
        if usage is None:
            log.warning("a litellm response reported no usage; nothing recorded")
            return None
        ids = self._ids(metadata)
        ids["model"] = usage.model or kwargs.get("model")
        return usage, ids

    # -- the callback --------------------------------------------------------------------------

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Record a finished call's usage (litellm calls it after each sync success)."""
        found = self._to_record(kwargs, response_obj)
        if found is not None:
            usage, ids = found
            self.budget.record(
                usage.input_tokens,
                usage.output_tokens,
                cached_input_tokens=usage.cached_input_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                **ids,
            )

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Commit a reserved async call's usage into its reservation (the prompt estimate and
        the output limit when it reports none), or record an unreserved one's."""
        held = self._held.pop(str(kwargs.get("litellm_call_id")), None)
        if held is not None:
            reservation, estimate = held
            usage = usage_of(response_obj)
            if usage is None:
                await reservation.acommit(estimate, reservation.tokens - estimate)
            else:
                await reservation.acommit_usage(usage, usage.model or kwargs.get("model"))
            return
        found = self._to_record(kwargs, response_obj)
        if found is not None:
            usage, ids = found
            await self.budget.arecord(
                usage.input_tokens,
                usage.output_tokens,
                cached_input_tokens=usage.cached_input_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                **ids,
            )

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Settle a reserved async call that failed: its prompt estimate is billed as input
        (the provider may have received it), the rest of the hold released."""
        held = self._held.pop(str(kwargs.get("litellm_call_id")), None)
        if held is not None:
            reservation, estimate = held
            await reservation.acommit(estimate, 0, kwargs.get("model"))

    async def async_pre_call_deployment_hook(
        self, kwargs: dict[str, Any], call_type: Any
    ) -> dict[str, Any] | None:
        """Reserve a plain async chat call before litellm sends it: the prompt estimate (by
        the budget's tokenizer) plus ``max_tokens`` (or ``max_output_tokens``).

        Raises:
            BudgetExhausted: the call would pass a cap; litellm raises it to the caller and
                never sends the request; nothing is held.
            LedgerError: the ledger failed.
        """
        messages = kwargs.get("messages")
        call_id = kwargs.get("litellm_call_id")
        metadata = kwargs.get("metadata")
        reserved = isinstance(metadata, Mapping) and metadata.get(RESERVED)
        if not isinstance(messages, list) or call_id is None or reserved:
            return None  # not a chat call, or one :meth:`acompletion` reserves itself
        estimate = count_prompt(messages, self.budget.tokenizer)
        out = kwargs.get("max_tokens") or kwargs.get("max_completion_tokens")
        output = whole_number(out or self.max_output_tokens, "max_tokens", minimum=1)
        ids = self._ids(metadata if isinstance(metadata, Mapping) else None)
        reservation = await self.budget.areserve(estimate + output, **ids)
        self._held[str(call_id)] = (reservation, estimate)
        return None

    # -- the reserving calls -------------------------------------------------------------------

    def _prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
        """litellm's kwargs with the reservation marker, the guard's scopes, and the output
        tokens to reserve."""
        if "messages" not in kwargs or "model" not in kwargs:
            raise ConfigurationError("completion needs model= and messages= (as litellm's)")
        metadata = dict(kwargs.get("metadata") or {})
        ids = self._ids(metadata)
        metadata[RESERVED] = True
        out = kwargs.get("max_tokens") or kwargs.get("max_completion_tokens")
        output = whole_number(out or self.max_output_tokens, "max_tokens", minimum=1)
        return {**kwargs, "metadata": metadata}, ids, output

    def completion(self, **kwargs: Any) -> Any:
        """``litellm.completion(**kwargs)`` inside :func:`~ctxbudget.guard`: reserved before
        the call (prompt estimate by the budget's tokenizer plus the output limit), committed
        from ``response.usage`` after it; a call that raises bills its prompt estimate as
        input (guard's default).

        Returns:
            litellm's response (a ``ModelResponse``).

        Raises:
            BudgetExhausted: the call would pass a cap; it was never made, nothing is spent.
            ConfigurationError: ``model`` or ``messages`` is missing, or ``max_tokens`` is not a
                whole number >= 1.
            Exception: whatever litellm raises, after the reservation is settled.
        """
        call, ids, output = self._prepare(kwargs)
        return guard(
            self.budget,
            lambda: litellm.completion(**call),
            prompt=call["messages"],
            max_output_tokens=output,
            **ids,
        )

    async def acompletion(self, **kwargs: Any) -> Any:
        """``await litellm.acompletion(**kwargs)`` inside :func:`~ctxbudget.aguard` (as
        :meth:`completion`, without blocking the event loop).

        Raises:
            The errors of :meth:`completion`.
        """
        call, ids, output = self._prepare(kwargs)
        return await aguard(
            self.budget,
            lambda: litellm.acompletion(**call),
            prompt=call["messages"],
            max_output_tokens=output,
            **ids,
        )
