"""usage_of on every provider's recorded response shape, and cached input from a response to
the ledger: recorded apart, priced at its own rate, counted against caps, on every ledger.

The responses are written from each provider's documented response schema (OpenAI API
reference: Chat Completions and Responses; Anthropic Messages API with prompt caching;
Gemini API GenerateContentResponse; langchain-core AIMessage; litellm ModelResponse, whose
Anthropic transformation puts cache reads and writes into prompt_tokens).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ctxbudget import BudgetEvent, ConfigurationError, SessionBudget, aguard, guard
from ctxbudget.models import bundled_catalogue
from ctxbudget.session import Usage, estimate_cost, usage_of
from ctxbudget.testing import CharTokenizer

CATALOGUE = bundled_catalogue()


def _obj(value: Any) -> Any:
    """A dict as an SDK object (attribute access all the way down)."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _obj(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_obj(v) for v in value]
    return value


OPENAI_CHAT = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "o4-mini-2025-04-16",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Lisbon.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 2_006,
        "completion_tokens": 300,
        "total_tokens": 2_306,
        "prompt_tokens_details": {"cached_tokens": 1_920, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 256,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}

OPENAI_RESPONSES = {
    "id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
    "object": "response",
    "created_at": 1741476777,
    "status": "completed",
    "model": "gpt-5-2025-08-07",
    "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Lisbon.", "annotations": []}],
        },
    ],
    "usage": {
        "input_tokens": 5_328,
        "input_tokens_details": {"cached_tokens": 4_096},
        "output_tokens": 452,
        "output_tokens_details": {"reasoning_tokens": 384},
        "total_tokens": 5_780,
    },
}

#: 12,000 cache reads + 1,000 cache writes: the 13,000 tokens the old usage_of dropped.
ANTHROPIC = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Lisbon."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 21,
        "cache_creation_input_tokens": 1_000,
        "cache_read_input_tokens": 12_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 393,
        "service_tier": "standard",
    },
}

GEMINI_REST = {
    "candidates": [
        {
            "content": {"parts": [{"text": "Lisbon."}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 12_000,
        "candidatesTokenCount": 300,
        "totalTokenCount": 13_500,
        "cachedContentTokenCount": 8_000,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12_000}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 8_000}],
        "thoughtsTokenCount": 1_200,
    },
    "modelVersion": "gemini-2.5-pro",
    "responseId": "mGqAaZ3mKq6m1MkP5rGZqAQ",
}

GEMINI_SDK = _obj(
    {
        "candidates": [],
        "usage_metadata": {
            "prompt_token_count": 12_000,
            "candidates_token_count": 300,
            "cached_content_token_count": 8_000,
            "thoughts_token_count": 1_200,
            "tool_use_prompt_token_count": 50,
            "total_token_count": 13_550,
        },
        "model_version": "gemini-2.5-pro",
    }
)


class _LitellmResponse:
    """litellm's ModelResponse: attribute and item access; for an Anthropic model its usage
    has prompt_tokens = input + cache writes + cache reads (litellm's transformation)."""

    def __init__(self) -> None:
        self.model = "claude-sonnet-4-5-20250929"
        self.usage = _obj(
            {
                "prompt_tokens": 13_021,
                "completion_tokens": 393,
                "total_tokens": 13_414,
                "prompt_tokens_details": {"cached_tokens": 12_000, "cache_creation_tokens": 1_000},
                "cache_creation_input_tokens": 1_000,
                "cache_read_input_tokens": 12_000,
            }
        )

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


def _langchain_message() -> Any:
    from langchain_core.messages import AIMessage

    return AIMessage(
        content="Lisbon.",
        usage_metadata={
            "input_tokens": 13_021,
            "output_tokens": 393,
            "total_tokens": 13_414,
            "input_token_details": {"cache_read": 12_000, "cache_creation": 1_000},
            "output_token_details": {"reasoning": 100},
        },
        response_metadata={"model_name": "claude-sonnet-4-5-20250929", "stop_reason": "end_turn"},
    )


ANTHROPIC_USAGE = Usage(13_021, 393, 12_000, 1_000, 0, "claude-sonnet-4-5-20250929")


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        pytest.param(OPENAI_CHAT, Usage(2_006, 300, 1_920, 0, 256, "o4-mini-2025-04-16"),
                     id="openai-chat-dict"),
        pytest.param(_obj(OPENAI_CHAT), Usage(2_006, 300, 1_920, 0, 256, "o4-mini-2025-04-16"),
                     id="openai-chat-object"),
        pytest.param(OPENAI_RESPONSES, Usage(5_328, 452, 4_096, 0, 384, "gpt-5-2025-08-07"),
                     id="openai-responses-dict"),
        pytest.param(_obj(OPENAI_RESPONSES), Usage(5_328, 452, 4_096, 0, 384, "gpt-5-2025-08-07"),
                     id="openai-responses-object"),
        pytest.param(ANTHROPIC, ANTHROPIC_USAGE, id="anthropic-dict"),
        pytest.param(_obj(ANTHROPIC), ANTHROPIC_USAGE, id="anthropic-object"),
        pytest.param(GEMINI_REST, Usage(12_000, 1_500, 8_000, 0, 1_200, "gemini-2.5-pro"),
                     id="gemini-rest"),
        pytest.param(GEMINI_SDK, Usage(12_050, 1_500, 8_000, 0, 1_200, "gemini-2.5-pro"),
                     id="gemini-sdk"),
        pytest.param(_LitellmResponse(), ANTHROPIC_USAGE, id="litellm-model-response"),
        pytest.param({"model": "deepseek-chat", "usage": {
            "prompt_tokens": 1_200, "completion_tokens": 80, "total_tokens": 1_280,
            "prompt_cache_hit_tokens": 1_000, "prompt_cache_miss_tokens": 200}},
            Usage(1_200, 80, 1_000, 0, 0, "deepseek-chat"), id="deepseek"),
    ],
)  # fmt: skip
def test_usage_of_reads_every_recorded_shape(response: Any, expected: Usage) -> None:
    """input_tokens are all input billed (cached included), cached parts apart, the model
    from the response; Gemini thoughts are output, Anthropic cache tokens are added."""
    assert usage_of(response) == expected


def test_usage_of_reads_a_langchain_ai_message() -> None:
    """AIMessage.usage_metadata, and the model from response_metadata."""
    assert usage_of(_langchain_message()) == Usage(
        13_021, 393, 12_000, 1_000, 100, "claude-sonnet-4-5-20250929"
    )


def test_usage_of_reads_the_langchain_model_key_too() -> None:
    message = _langchain_message()
    message.response_metadata = {"model": "gpt-4o-mini"}
    assert usage_of(message).model == "gpt-4o-mini"  # type: ignore[union-attr]


def test_usage_of_gemini_without_output_counts_zero_output() -> None:
    """Gemini's JSON omits zero counts: a response with no candidates tokens used 0."""
    response = {"usageMetadata": {"promptTokenCount": 40, "totalTokenCount": 40}}
    assert usage_of(response) == Usage(40, 0)


@pytest.mark.parametrize(
    "response",
    [
        {"usage": {"prompt_tokens": -1, "completion_tokens": 5}},
        {"usage": {"input_tokens": 5, "output_tokens": None}},
        {"usageMetadata": {"promptTokenCount": True, "candidatesTokenCount": 1}},
        {"usage_metadata": {"input_tokens": "12", "output_tokens": 3}},
        {"usage": {"total_tokens": 9}},
        {"choices": []},
        None,
        b"bytes",
    ],
)
def test_usage_of_malformed_main_counts_is_none(response: Any) -> None:
    """Without trustworthy main counts guard falls back to its estimate."""
    assert usage_of(response) is None


def test_usage_of_malformed_details_count_as_zero_and_parts_are_capped() -> None:
    bad = {
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": True},
            "completion_tokens_details": {"reasoning_tokens": -3},
        }
    }
    assert usage_of(bad) == Usage(10, 5)
    over = {
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 50},
        }
    }
    assert usage_of(over) == Usage(10, 5, cached_input_tokens=10)


def test_usage_checks_its_parts() -> None:
    with pytest.raises(ConfigurationError, match="exceed input_tokens"):
        Usage(10, 0, cached_input_tokens=8, cache_write_tokens=3)
    with pytest.raises(ConfigurationError, match="reasoning_tokens"):
        Usage(10, 5, reasoning_tokens=6)
    with pytest.raises(ConfigurationError, match="output_tokens must be a whole number"):
        Usage(10, -1)
    assert Usage(10, 5).total_tokens == 15


# -- from the response to the ledger -------------------------------------------------------------


@pytest.fixture
def budget(ledger_url: str) -> Iterator[SessionBudget]:
    b = SessionBudget(
        ledger_url, session_cap=100_000, tokenizer=CharTokenizer(), catalogue=CATALOGUE
    )
    yield b
    b.close()


class Call:
    def __init__(self, response: Any) -> None:
        self.response = response

    def __call__(self) -> Any:
        return self.response


def test_anthropic_cache_tokens_reach_the_ledger(budget: SessionBudget) -> None:
    """Before, usage_of read input_tokens=21 only: 13,000 cached tokens never counted."""
    guard(budget, Call(ANTHROPIC), prompt="hello", max_output_tokens=500, session="s1")
    s = budget.status("s1")
    assert (s.input_tokens, s.output_tokens, s.used) == (13_021, 393, 13_414)
    assert (s.cached_input_tokens, s.cache_write_tokens, s.calls_unpriced) == (12_000, 1_000, 0)
    # claude-sonnet-4-5 from the response: $3 fresh, $0.30 read, $3.75 write, $15 out per 1M
    expected = (21 * 3.0 + 12_000 * 0.30 + 1_000 * 3.75 + 393 * 15.0) / 1e6
    assert s.cost == pytest.approx(expected)


def test_the_readme_guard_example_costs_more_than_zero(budget: SessionBudget) -> None:
    """guard with no model= takes the model the response names (before: $0)."""
    response = _obj({**OPENAI_CHAT, "model": "gpt-4o-2024-08-06"})
    messages = [{"role": "user", "content": "Where does Maya live?"}]
    guard(budget, Call(response), prompt=messages, max_output_tokens=800, session="s1", user="maya")
    s = budget.status("s1")
    assert s.cost == pytest.approx((86 * 2.50 + 1_920 * 1.25 + 300 * 10.0) / 1e6)
    assert s.cost > 0
    assert budget.status(user="maya").cost == s.cost


def test_a_usage_reader_returning_the_old_pair_still_works(budget: SessionBudget) -> None:
    """guard(usage=...) written for the (input, output) tuple commits the pair."""
    guard(budget, Call("text"), prompt="hi", max_output_tokens=50, session="s1",
          model="gpt-4o", usage=lambda _: (7, 3))  # fmt: skip
    s = budget.status("s1")
    assert (s.input_tokens, s.output_tokens, s.cached_input_tokens) == (7, 3, 0)
    assert s.cost == pytest.approx((7 * 2.50 + 3 * 10.0) / 1e6)


def test_aguard_commits_cache_tokens_and_the_responses_model(budget: SessionBudget) -> None:
    import asyncio

    async def call() -> Any:
        return _obj(ANTHROPIC)

    asyncio.run(aguard(budget, call, prompt="hi", max_output_tokens=500, session="s1"))
    s = budget.status("s1")
    assert (s.input_tokens, s.cached_input_tokens, s.cache_write_tokens) == (13_021, 12_000, 1_000)
    assert s.calls_unpriced == 0


def test_a_model_given_to_guard_wins_over_the_responses(budget: SessionBudget) -> None:
    guard(
        budget, Call(OPENAI_CHAT), prompt="hi", max_output_tokens=400, session="s1", model="gpt-4.1"
    )
    # gpt-4.1: $2 fresh, $0.50 cached, $8 out per 1M
    expected = (86 * 2.0 + 1_920 * 0.50 + 300 * 8.0) / 1e6
    assert budget.status("s1").cost == pytest.approx(expected)


@pytest.mark.parametrize(
    ("response", "model"),
    [(OPENAI_RESPONSES, "gpt-5"), (GEMINI_REST, "gemini-2.5-pro"), (OPENAI_CHAT, "o4-mini")],
)
def test_newer_models_cost_their_catalogue_price(
    budget: SessionBudget, response: Any, model: str
) -> None:
    """gpt-5, Gemini 2.5 and o4-mini cost what the catalogue says for the reported usage."""
    guard(budget, Call(response), prompt="hi", max_output_tokens=5_000, session="s1")
    usage = usage_of(response)
    assert usage is not None
    info = CATALOGUE.find(model)
    assert info is not None
    expected = info.cost(
        usage.input_tokens, usage.output_tokens, cached_input_tokens=usage.cached_input_tokens
    )
    assert expected is not None
    assert expected > 0
    assert budget.status("s1").cost == pytest.approx(expected)


def test_cached_input_is_priced_at_the_cached_rate_on_every_ledger(budget: SessionBudget) -> None:
    """The same 10,000 input tokens cost less when 8,000 were read from the cache, and the
    cached ones still count against the cap."""
    budget.reserve(20_000, session="a").commit(10_000, 100, "gpt-4o")
    budget.reserve(20_000, session="b").commit(10_000, 100, "gpt-4o", cached_input_tokens=8_000)
    a, b = budget.status("a"), budget.status("b")
    assert a.cost == pytest.approx((10_000 * 2.50 + 100 * 10.0) / 1e6)
    assert b.cost == pytest.approx((2_000 * 2.50 + 8_000 * 1.25 + 100 * 10.0) / 1e6)
    assert (a.used, b.used) == (10_100, 10_100)
    assert (b.input_tokens, b.cached_input_tokens, a.cached_input_tokens) == (10_000, 8_000, 0)


def test_cache_writes_are_priced_and_recorded_on_every_ledger(budget: SessionBudget) -> None:
    budget.record(5_000, 0, session="s1", model="claude-opus-4-5", cache_write_tokens=4_000)
    s = budget.status("s1")
    assert (s.input_tokens, s.cache_write_tokens, s.used) == (5_000, 4_000, 5_000)
    assert s.cost == pytest.approx((1_000 * 5.0 + 4_000 * 6.25) / 1e6)


def test_an_unknown_model_costs_none_and_fires_one_event(budget: SessionBudget) -> None:
    """Never $0 silently: cost stays the sum of known costs, calls_unpriced counts the rest,
    and unknown_model fires once per model per budget."""
    events: list[BudgetEvent] = []
    budget.on("unknown_model", events.append)
    for _ in range(2):
        budget.reserve(100, session="s1").commit(50, 10, "gpt-4o-minii")
    budget.reserve(100, session="s1").commit(50, 10, "gpt-4o")
    budget.reserve(100, session="s1").commit(50, 10)  # no model: unpriced too
    budget.record(50, 10, session="s1")
    s = budget.status("s1")
    assert (s.calls, s.calls_unpriced) == (5, 4)
    assert s.cost == pytest.approx((50 * 2.50 + 10 * 10.0) / 1e6)
    assert [e.detail["model"] for e in events if e.detail] == ["gpt-4o-minii", None]
    first = events[0]
    assert first.scope == "session:s1"
    assert first.detail is not None
    assert "gpt-4o-mini" in first.detail["suggestions"]
    assert "not $0" in first.detail["message"]


def test_your_prices_come_before_the_catalogue(ledger_url: str) -> None:
    """prices= entries of 2 to 4 figures; a 2-figure entry bills cached input as input."""
    with SessionBudget(
        ledger_url,
        catalogue=CATALOGUE,
        prices={"gpt-4o": (1.0, 2.0), "house-model": (1.0, 2.0, 0.1)},
    ) as b:
        b.record(1_000, 100, session="s", model="gpt-4o-2024-08-06", cached_input_tokens=500)
        b.record(1_000, 100, session="t", model="house-model", cached_input_tokens=500)
        assert b.status("s").cost == pytest.approx((1_000 * 1.0 + 100 * 2.0) / 1e6)
        assert b.status("t").cost == pytest.approx((500 * 1.0 + 500 * 0.1 + 100 * 2.0) / 1e6)


@pytest.mark.parametrize("entry", [(1.0,), (1.0, -2.0), ("1", "2"), (1, 2, 3, 4, 5)])
def test_malformed_prices_are_refused(entry: tuple[Any, ...]) -> None:
    with pytest.raises(ConfigurationError, match=r"prices\['m'\] must be"):
        SessionBudget("memory://", prices={"m": entry}, catalogue=CATALOGUE)


def test_a_commit_whose_cached_parts_exceed_its_input_is_refused(budget: SessionBudget) -> None:
    r = budget.reserve(100, session="s1")
    with pytest.raises(ConfigurationError, match="exceed input_tokens"):
        r.commit(10, 0, "gpt-4o", cached_input_tokens=11)
    assert r.state == "active"
    r.commit(10, 0, "gpt-4o", cached_input_tokens=10)
    assert budget.status("s1").cached_input_tokens == 10


def test_a_catalogue_file_given_to_the_budget_prices_its_models(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        '{"house-model": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}'
    )
    with SessionBudget("memory://", catalogue=path) as b:
        b.record(1_000, 1_000, session="s", model="house-model")
        assert b.status("s").cost == pytest.approx(0.003)
        assert b.status("s").calls_unpriced == 0


def test_estimate_cost_of_an_unknown_model_is_none_not_zero() -> None:
    """The old estimate_cost returned 0.0 for gpt-5 and every unknown model."""
    assert estimate_cost("gpt-5", 1_000, 1_000, catalogue=CATALOGUE) == pytest.approx(0.01125)
    assert estimate_cost("no-such-model", 1_000, 1_000, catalogue=CATALOGUE) is None
    assert estimate_cost(None, 1_000, 1_000, catalogue=CATALOGUE) is None


def test_an_older_sqlite_ledger_gains_the_cache_columns(tmp_path: Path) -> None:
    """A ledger file written before cached accounting opens, keeps its spend, and records
    cached input from then on."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE scopes (scope TEXT PRIMARY KEY, cap INTEGER,
            used INTEGER NOT NULL DEFAULT 0, reserved INTEGER NOT NULL DEFAULT 0,
            calls INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0,
            created REAL NOT NULL, updated REAL NOT NULL, warned INTEGER NOT NULL DEFAULT 0,
            exhausted INTEGER NOT NULL DEFAULT 0, expires REAL NOT NULL DEFAULT 0,
            overspent INTEGER NOT NULL DEFAULT 0, overspends INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE holds (id TEXT PRIMARY KEY, tokens INTEGER NOT NULL,
            scopes TEXT NOT NULL, state TEXT NOT NULL, created REAL NOT NULL,
            expires REAL NOT NULL, retention REAL NOT NULL, owner TEXT);
        INSERT INTO scopes (scope, cap, used, input_tokens, cost, created, updated, expires)
            VALUES ('session:old', 100000, 250, 250, 0.5, 1.0, 1.0, 9e12);
        """
    )
    db.commit()
    db.close()
    with SessionBudget(f"sqlite:///{path}", session_cap=100_000, catalogue=CATALOGUE) as b:
        assert (b.status("old").used, b.status("old").cached_input_tokens) == (250, 0)
        b.reserve(1_000, session="old").commit(800, 0, "gpt-4o", cached_input_tokens=600)
        s = b.status("old")
        assert (s.used, s.input_tokens, s.cached_input_tokens) == (1_050, 1_050, 600)
        assert s.cost == pytest.approx(0.5 + (200 * 2.50 + 600 * 1.25) / 1e6)
