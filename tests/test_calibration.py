"""Calibration from billed usage: a proxy's counts scaled until the cap holds against the
provider's own count."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from ctxbudget import SessionBudget, fit_messages, get_tokenizer, guard
from ctxbudget.session._calibration import CalibratedTokenizer, Calibration, calibration_of

MODEL = "claude-sonnet-4-5"


class Proxy:
    """o200k as a proxy for a model without a public tokenizer: approximate."""

    approximate = True

    def __init__(self) -> None:
        self.inner = get_tokenizer("o200k_base")
        self.name = "proxy-o200k"

    def count(self, text: str) -> int:
        return self.inner.count(text)

    def encode(self, text: str) -> list[int]:
        return self.inner.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.inner.decode(ids)


def provider_count(text: str) -> int:
    """A provider whose tokenizer counts 20% more than the proxy."""
    return math.ceil(1.2 * get_tokenizer("o200k_base").count(text))


def test_guard_feeds_calibration_and_it_converges_on_a_20_percent_over_reporter(
    ledger_url: str,
) -> None:
    budget = SessionBudget(ledger_url, session_cap=None, tokenizer=Proxy())
    prompts = [
        f"question {i}: " + "tell me about the weather in Paris " * (i + 3) for i in range(8)
    ]
    for prompt in prompts:
        billed = provider_count(prompt)

        def call(billed: int = billed) -> dict[str, Any]:
            return {"model": MODEL, "usage": {"input_tokens": billed, "output_tokens": 5}}

        guard(budget, call, prompt=prompt, max_output_tokens=50, session="s")
    cal = Calibration(budget.ledger)  # any Calibration over the same ledger reads the same
    ratio = cal.ratio(MODEL)
    assert ratio is not None
    assert ratio == pytest.approx(1.2, abs=0.01)
    n, billed_sum, estimated_sum = cal.samples(MODEL)
    assert n == len(prompts)
    assert billed_sum == sum(provider_count(p) for p in prompts)
    assert estimated_sum == sum(Proxy().count(p) for p in prompts)

    # the cap then holds against the provider's count
    tok = cal.tokenizer(MODEL, Proxy())
    assert tok.factor == pytest.approx(ratio)
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": p}
               for i, p in enumerate(prompts * 5)]  # fmt: skip
    for cap in (300, 800, 2000):
        fitted = fit_messages(history, cap, tokenizer=tok)
        assert sum(provider_count(m["content"]) for m in fitted.messages) <= fitted.tokens <= cap
    budget.close()


def test_exact_tokenizers_are_not_calibrated() -> None:
    budget = SessionBudget("memory://", session_cap=None)  # o200k: exact for OpenAI models
    guard(
        budget,
        lambda: {"model": "gpt-4o", "usage": {"prompt_tokens": 999, "completion_tokens": 1}},
        prompt="hello",
        max_output_tokens=10,
        session="s",
    )
    assert calibration_of(budget.ledger).samples("gpt-4o") == (0, 0, 0)


def test_a_calibration_never_scales_down_and_needs_samples() -> None:
    from ctxbudget.session.ledgers import MemoryLedger

    cal = Calibration(MemoryLedger(), min_samples=3)
    cal.observe("m", estimated=1000, billed=800)
    assert cal.ratio("m") is None
    assert cal.factor("m") == 1.0
    cal.observe("m", estimated=1000, billed=800)
    cal.observe("m", estimated=1000, billed=800)
    assert cal.ratio("m") == pytest.approx(0.8)
    assert cal.factor("m") == 1.0  # a cap set on estimates stays safe
    with pytest.raises(ValueError, match=">= 1"):
        CalibratedTokenizer(get_tokenizer("o200k_base"), 0.5, "m")


def test_calibration_survives_a_new_process_on_sqlite(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'cal.db'}"
    first = SessionBudget(url, session_cap=None)
    for _ in range(3):
        calibration_of(first.ledger).observe(MODEL, estimated=100, billed=130)
    first.close()
    again = SessionBudget(url, session_cap=None)
    assert Calibration(again.ledger).ratio(MODEL) == pytest.approx(1.3)
    assert CalibratedTokenizer(get_tokenizer("o200k_base"), 1.3, MODEL).name == "o200k_base*1.3000"


def test_a_calibrated_count_only_tokenizer_holds_the_cap_in_a_build() -> None:
    """build_context with the calibrated proxy (count only): the provider's own count of the
    assembled text stays within the cap."""
    from ctxbudget import build_context

    tok = CalibratedTokenizer(get_tokenizer("o200k_base"), 1.2, MODEL)
    notes = "\n".join(f"note {i}: the weather in Paris is mild in spring" for i in range(400))
    for cap in (200, 1000, 3000):
        built = build_context({"notes": notes, "facts": "x" * 5000}, max_tokens=cap, tokenizer=tok)
        assert provider_count(built.text) <= built.tokens <= cap
        assert built.approximate
