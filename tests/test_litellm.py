"""The litellm adapter against the real litellm, offline (mock_response): the callback
records each call's reported usage, the reserving completion refuses what would pass a cap."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest

# the model cost map is litellm's bundled copy: no fetch from the network at import
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

from ctxbudget import BudgetExhausted, ConfigurationError, SessionBudget
from ctxbudget.integrations.litellm import BudgetLogger

# litellm's own TypedDicts use ReadOnly, which pydantic warns about when it builds them
pytestmark = pytest.mark.filterwarnings("ignore:Items? .* the `ReadOnly` qualifier:UserWarning")

#: litellm's mock_response reports this usage (prompt 10, completion 20).
MOCK_INPUT, MOCK_OUTPUT = 10, 20
MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture
def budget() -> SessionBudget:
    return SessionBudget("memory://", session_cap=1_000)


@pytest.fixture
def logger(budget: SessionBudget) -> Iterator[BudgetLogger]:
    logger = BudgetLogger(budget, session="s1", max_output_tokens=100)
    previous = litellm.callbacks
    litellm.callbacks = [logger]
    yield logger
    # litellm copies callbacks into its success/failure lists on first use: take ours out
    for callback in litellm.callbacks:
        litellm.logging_callback_manager.remove_callback_from_all_lists(callback)
    litellm.callbacks = previous


def _wait_for_calls(budget: SessionBudget, session: str, calls: int) -> None:
    """litellm runs success callbacks in the background: wait (up to 20 s) for them."""
    deadline = time.monotonic() + 20
    while budget.status(session).calls < calls and time.monotonic() < deadline:
        time.sleep(0.02)


def test_callback_records_a_plain_completion(budget: SessionBudget, logger: BudgetLogger) -> None:
    """litellm.completion(mock_response=...) with the logger in litellm.callbacks: the ledger
    holds exactly the mock's usage, once."""
    reply = litellm.completion(model="gpt-4o", messages=MESSAGES, mock_response="hi")
    assert reply.choices[0].message.content == "hi"
    _wait_for_calls(budget, "s1", 1)
    status = budget.status("s1")
    assert (status.calls, status.input_tokens, status.output_tokens) == (1, 10, 20)
    assert status.used == MOCK_INPUT + MOCK_OUTPUT


def test_callback_reads_the_session_from_metadata(
    budget: SessionBudget, logger: BudgetLogger
) -> None:
    """metadata={"ctxbudget_session": "s2"} charges s2, not the logger's default."""
    litellm.completion(
        model="gpt-4o", messages=MESSAGES, mock_response="hi", metadata={"ctxbudget_session": "s2"}
    )
    _wait_for_calls(budget, "s2", 1)
    assert budget.status("s2").used == 30
    assert budget.status("s1").used == 0


def test_callback_records_an_async_completion(budget: SessionBudget, logger: BudgetLogger) -> None:
    """litellm.acompletion: the async success callback records the mock's usage."""

    async def call() -> None:
        await litellm.acompletion(model="gpt-4o", messages=MESSAGES, mock_response="hi")
        deadline = time.monotonic() + 20
        while (await budget.astatus("s1")).calls < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    asyncio.run(call())
    assert budget.status("s1").used == 30


def test_reserving_completion_commits_once(budget: SessionBudget, logger: BudgetLogger) -> None:
    """logger.completion reserves, calls and commits the reported usage; the callback leaves
    it alone (two calls: 60 tokens, 2 calls, nothing held)."""
    logger.completion(model="gpt-4o", messages=MESSAGES, mock_response="hi", max_tokens=50)
    logger.completion(model="gpt-4o", messages=MESSAGES, mock_response="hi")
    time.sleep(0.5)  # room for a (wrong) second record by the background callback
    status = budget.status("s1")
    assert (status.used, status.calls, status.reserved) == (60, 2, 0)


def test_reserving_completion_refuses_a_call_over_the_cap(
    budget: SessionBudget, logger: BudgetLogger
) -> None:
    """max_tokens=995 plus the prompt estimate passes the 1,000 cap: BudgetExhausted, the
    call is never made, nothing is spent or held."""
    made: list[object] = []
    litellm.callbacks.append(_Spy(made))
    with pytest.raises(BudgetExhausted):
        logger.completion(model="gpt-4o", messages=MESSAGES, mock_response="hi", max_tokens=995)
    time.sleep(0.3)
    status = budget.status("s1")
    assert (status.used, status.reserved, status.calls) == (0, 0, 0)
    assert made == []


def test_async_reserving_completion_commits_and_refuses(
    budget: SessionBudget, logger: BudgetLogger
) -> None:
    """await logger.acompletion: committed from the response; over the cap: refused."""

    async def calls() -> None:
        await logger.acompletion(model="gpt-4o", messages=MESSAGES, mock_response="hi")
        with pytest.raises(BudgetExhausted):
            await logger.acompletion(
                model="gpt-4o", messages=MESSAGES, mock_response="hi", max_tokens=995
            )

    asyncio.run(calls())
    status = budget.status("s1")
    assert (status.used, status.reserved, status.calls) == (30, 0, 1)


def test_logger_rejects_bad_arguments(budget: SessionBudget) -> None:
    """An empty session, a zero output limit, a call without messages: ConfigurationError."""
    with pytest.raises(ConfigurationError, match="session"):
        BudgetLogger(budget, session="")
    with pytest.raises(ConfigurationError, match="max_output_tokens"):
        BudgetLogger(budget, session="s1", max_output_tokens=0)
    with pytest.raises(ConfigurationError, match="messages"):
        BudgetLogger(budget, session="s1").completion(model="gpt-4o")


class _Spy(litellm.integrations.custom_logger.CustomLogger):
    """Notes every call litellm starts."""

    def __init__(self, made: list[object]) -> None:
        super().__init__()
        self.made = made

    def log_pre_api_call(self, model: object, messages: object, kwargs: object) -> None:
        self.made.append(model)


def test_plain_acompletion_is_reserved_and_refused_over_the_cap(
    budget: SessionBudget, logger: BudgetLogger
) -> None:
    """With the logger in litellm.callbacks, a plain litellm.acompletion over the cap raises
    BudgetExhausted (the request is never sent: nothing spent, nothing held); one within it
    is held before the call and committed with the mock's usage after."""
    made: list[object] = []
    litellm.callbacks.append(_Spy(made))

    async def calls() -> None:
        with pytest.raises(BudgetExhausted):
            await litellm.acompletion(
                model="gpt-4o", messages=MESSAGES, mock_response="hi", max_tokens=995
            )
        await litellm.acompletion(model="gpt-4o", messages=MESSAGES, mock_response="hi")
        deadline = time.monotonic() + 20
        while (await budget.astatus("s1")).calls < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    asyncio.run(calls())
    status = budget.status("s1")
    assert (status.used, status.reserved, status.calls) == (30, 0, 1)
    assert made == ["gpt-4o"]  # only the call within the cap reached litellm's request


def test_a_failed_plain_acompletion_bills_its_prompt_estimate(
    budget: SessionBudget, logger: BudgetLogger
) -> None:
    """A reserved async call that fails: the prompt estimate is billed as input, the rest of
    the hold released. The estimate by hand (o200k_base): 3 per message + 'user' (1) +
    'hello' (1) + reply priming 3 = 8 tokens."""

    async def call() -> None:
        with pytest.raises(litellm.RateLimitError):
            await litellm.acompletion(
                model="gpt-4o", messages=MESSAGES, mock_response="litellm.RateLimitError"
            )
        deadline = time.monotonic() + 20
        while (await budget.astatus("s1")).calls < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    asyncio.run(call())
    status = budget.status("s1")
    assert (status.input_tokens, status.output_tokens, status.reserved) == (8, 0, 0)
