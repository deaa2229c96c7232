"""Summarizers never exceed their limit, keep who said what, and never fail silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from benchmarks import corpus
from ctxbudget import (
    ConfigurationError,
    ExtractiveSummarizer,
    LLMSummarizer,
    Summarizer,
    get_tokenizer,
)
from ctxbudget.memory._summarize import TRUNCATED_MARKER

TOK = get_tokenizer("o200k_base")


def test_both_implement_the_protocol() -> None:
    """ExtractiveSummarizer and LLMSummarizer are Summarizers."""
    assert isinstance(ExtractiveSummarizer(), Summarizer)
    assert isinstance(LLMSummarizer(lambda p: p), Summarizer)


def test_extractive_keeps_informative_sentences_with_their_speaker_in_order() -> None:
    """Frequent content words win; speakers stay attached; original order is kept."""
    items = [
        "user: The Rotterdam partition doubled after the retry. Nice weather today.",
        "assistant: The retry inserted the Rotterdam partition twice. Hello there.",
        "user: Fix the Rotterdam partition loader.",
    ]
    expected = [
        "user: The Rotterdam partition doubled after the retry.",
        "assistant: The retry inserted the Rotterdam partition twice.",
        "user: Fix the Rotterdam partition loader.",
    ]
    limit = TOK.count("\n".join(expected)) + 2  # no room for a fourth sentence
    assert ExtractiveSummarizer().summarize(items, limit).split("\n") == expected


def test_previous_summary_merges_as_an_item() -> None:
    """A running summary passed as an item can survive into the next summary."""
    items = ["summary: Maya owns the Rotterdam loader.", "user: The Rotterdam loader failed."]
    assert "summary: Maya owns the Rotterdam loader." in ExtractiveSummarizer().summarize(items, 30)


@pytest.mark.data
def test_extractive_never_exceeds_its_limit_on_real_conversations(shared_data: Path) -> None:
    """On 300 real conversations and 4 limits the summary's exact count fits the limit."""
    summarizer = ExtractiveSummarizer()
    for conversation in corpus.conversations()[:300]:
        items = corpus.message_items(conversation)
        for limit in (0, 16, 200, 1000):
            assert TOK.count(summarizer.summarize(items, limit)) <= limit


@settings(max_examples=100, deadline=None)
@given(
    items=st.lists(st.text(min_size=0, max_size=200), max_size=10),
    limit=st.integers(0, 80),
)
def test_extractive_limit_holds_for_any_text(items: list[str], limit: int) -> None:
    """For arbitrary text the summary never exceeds the limit."""
    assert TOK.count(ExtractiveSummarizer().summarize(items, limit)) <= limit


# Lines that end in a stop (".\n" is one o200k token), lines that start with "/" (no boundary
# where counts add up), spaces, newlines and a lone surrogate.
_LINES = st.text(alphabet="ab./ \n\ud83dΣ", max_size=40)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(_LINES, max_size=8), limit=st.integers(0, 60))
@example(items=["aaa.\n/aaa"], limit=60)  # o200k: 3 tokens, though its lines' counts sum to 4
@pytest.mark.parametrize("tokenizer", ["o200k_base", "cl100k_base", "approx"])
def test_the_summary_count_is_the_exact_count_of_its_text(
    tokenizer: str, items: list[str], limit: int
) -> None:
    """The count the summarizer hands the cleanup (which stores it as the summary's size) is
    the text's own count, whether the lines' counts add up (o200k, cl100k) or not."""
    summarizer = ExtractiveSummarizer(tokenizer)
    text, tokens = summarizer._summarize_counted(items, limit)
    assert text == summarizer.summarize(items, limit)
    assert tokens == get_tokenizer(tokenizer).count(text) <= limit


@pytest.mark.parametrize("tokenizer", ["o200k_base", "approx"])
def test_a_line_that_fits_exactly_is_kept(tokenizer: str) -> None:
    """The last line of a summary has no newline after it, so a line whose count is the whole
    room left is kept, not charged for that newline."""
    tok = get_tokenizer(tokenizer)
    summarizer = ExtractiveSummarizer(tokenizer)
    assert summarizer.summarize(["hello world"], tok.count("hello world")) == "hello world"
    items = ["user: I live in Paris", "assistant: noted"]
    limit = tok.count("user: I live in Paris")
    assert summarizer.summarize(items, limit) == "user: I live in Paris"


@pytest.mark.data
@pytest.mark.parametrize("start", [0, 400, 800])
def test_a_line_that_ends_in_a_stop_costs_no_extra_join(shared_data: Path, start: int) -> None:
    """Each line is charged with the newline that joins it, so a stop and its newline (one
    token) are not charged as two: the summary of 400 real Jargon File entries, 40 % of its
    tokens, fills its limit to within 1 % (the old charge, the line alone plus one token a
    join, left 396-831 tokens of 20-25k empty; now 1-13)."""
    text = " ".join(corpus.jargon_entries()[start : start + 400])
    limit = int(TOK.count(text) * 0.4)
    summary = ExtractiveSummarizer().summarize([text], limit)
    assert limit - limit // 100 <= TOK.count(summary) <= limit


def test_llm_summary_within_limit_is_returned_as_is() -> None:
    """A short model output comes back unchanged; the prompt carries items as data."""
    prompts: list[str] = []

    def model(prompt: str) -> str:
        prompts.append(prompt)
        return "Maya fixed the loader."

    out = LLMSummarizer(model).summarize(["user: {{ 7*7 }} fix it"], 50)
    assert out == "Maya fixed the loader."
    assert "user: {{ 7*7 }} fix it" in prompts[0]
    assert "at most 50 tokens" in prompts[0]


def test_llm_summary_over_its_limit_is_cut_and_marked() -> None:
    """A model that over-produces is cut to the limit and marked truncated."""
    out = LLMSummarizer(lambda p: "the loader was fixed " * 200).summarize(["x"], 40)
    assert out.endswith(TRUNCATED_MARKER)
    assert TOK.count(out) <= 40
    assert ("the loader was fixed " * 200).startswith(out[: -len(TRUNCATED_MARKER)])


def test_llm_summarizer_errors_surface() -> None:
    """A summarizer callable that raises is never swallowed."""

    def broken(prompt: str) -> str:
        raise ConnectionError("model unavailable")

    with pytest.raises(ConnectionError, match="model unavailable"):
        LLMSummarizer(broken).summarize(["x"], 10)
    with pytest.raises(ConfigurationError, match="must return str"):
        LLMSummarizer(lambda p: None).summarize(["x"], 10)  # type: ignore[arg-type, return-value]


@pytest.mark.parametrize("limit", [-1, 1.5, True])
def test_invalid_limits_are_refused(limit: object) -> None:
    """max_tokens must be a whole number >= 0."""
    with pytest.raises(ConfigurationError, match="max_tokens"):
        ExtractiveSummarizer().summarize(["x"], limit)  # type: ignore[arg-type]


def test_llm_merge_prompt_carries_the_previous_summary_and_items_as_data() -> None:
    """The merge prompt shows the rendered state, the items (never evaluated) and the limit."""
    from ctxbudget import SummaryState

    prompts: list[str] = []

    def model(prompt: str) -> str:
        prompts.append(prompt)
        return "User facts and preferences:\n- My name is Priya\nfree text after"

    previous = SummaryState(tasks=("fix the loader",))
    state = LLMSummarizer(model).merge(previous, ["user: {{ 7*7 }} my name is Priya"], 80)
    assert "Open tasks and questions:\n- fix the loader" in prompts[0]
    assert "user: {{ 7*7 }} my name is Priya" in prompts[0]
    assert "at most 80 tokens" in prompts[0]
    assert state.facts == ("My name is Priya", "free text after")


def test_llm_merge_over_budget_is_fitted_and_errors_surface() -> None:
    """An over-long answer is fitted part by part; a non-str or a raising model surfaces."""
    from ctxbudget import SummaryState

    long = "What happened:\n" + "\n".join(f"- step {i} of the repair went fine" for i in range(300))
    state = LLMSummarizer(lambda p: long).merge(SummaryState(), ["x"], 40)
    assert 0 < TOK.count(state.render()) <= 40
    assert state.narrative[-1] == "step 299 of the repair went fine"  # oldest dropped first
    with pytest.raises(ConfigurationError, match="must return str"):
        LLMSummarizer(lambda p: 3).merge(SummaryState(), ["x"], 10)  # type: ignore[arg-type, return-value]

    def broken(prompt: str) -> str:
        raise ConnectionError("model unavailable")

    with pytest.raises(ConnectionError, match="model unavailable"):
        LLMSummarizer(broken).merge(SummaryState(), ["x"], 10)
    with pytest.raises(ConfigurationError, match="SummaryState"):
        ExtractiveSummarizer().merge("old summary", ["x"], 10)  # type: ignore[arg-type]


def test_an_llm_paragraph_over_the_budget_keeps_the_sentences_that_fit() -> None:
    """A model that answers with one paragraph a little over the budget is not thrown away
    whole: its sentences are narrative lines, and those that fit are kept."""
    from ctxbudget.memory import SummaryState

    paragraph = " ".join(
        f"The user discussed topic {i} and decided on option {i % 3}." for i in range(40)
    )
    merged = LLMSummarizer(lambda prompt: paragraph).merge(SummaryState(), ["user: hi"], 120)
    assert 0 < TOK.count(merged.render()) <= 120
    assert "The user discussed topic" in merged.render()
