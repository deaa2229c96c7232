"""The structured running summary: never nested, never over budget, facts kept through merges."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import facts
from ctxbudget import (
    ConfigurationError,
    ExtractiveSummarizer,
    LLMSummarizer,
    MergingSummarizer,
    Summarizer,
    SummaryState,
    get_tokenizer,
    merge_summary,
)

TOK = get_tokenizer("o200k_base")
#: A line of rendered text that starts with two prefixes, or with "summary:" at all.
NESTED = re.compile(r"(?i)^(?:- )?(?:summary\s*:|(?:user|assistant|system|tool)\s*:\s*\w+\s*:)")

lines = st.lists(st.text(min_size=0, max_size=60), max_size=8).map(tuple)
states = st.builds(
    SummaryState, facts=lines, decisions=lines, tasks=lines, entities=lines, narrative=lines
)


def test_render_has_one_header_per_part_and_a_bullet_per_line() -> None:
    """Render order is facts, decisions, tasks, entities, narrative; empty parts are left out."""
    state = SummaryState(
        narrative=("user: asked about the loader",), facts=("My name is Priya",), tasks=("x",)
    )
    assert state.render() == (
        "User facts and preferences:\n- My name is Priya\n\n"
        "Open tasks and questions:\n- x\n\n"
        "What happened (oldest first):\n- user: asked about the loader"
    )
    assert SummaryState().render() == ""


def test_prefix_chains_keep_at_most_one_attribution() -> None:
    """'summary: summary: user: ...' is stored as 'user: ...'; a lone 'summary:' goes."""
    state = SummaryState(narrative=("summary: summary: user: I live in Porto", "summary: x"))
    assert state.narrative == ("user: I live in Porto", "x")


@settings(max_examples=200, deadline=None)
@given(state=states)
def test_parse_inverts_render(state: SummaryState) -> None:
    """parse(render(s)) is s again, so render(parse(render(s))) == render(s)."""
    assert SummaryState.parse(state.render()) == state
    assert SummaryState.parse(state.render()).render() == state.render()


def test_free_text_and_legacy_summaries_parse_as_narrative() -> None:
    """An LLM's free-form answer or an old checkpoint's plain summary becomes narrative lines."""
    legacy = "summary: summary: user: The loader failed.\nsummary: Maya owns it.\n\n"
    assert SummaryState.parse(legacy) == SummaryState(
        narrative=("user: The loader failed.", "Maya owns it.")
    )
    answer = "Sure! Here it is.\n## Decisions\n* Use Postgres\n**Open tasks:**\n1. Fix the loader"
    state = SummaryState.parse(answer)
    assert state.narrative == ("Sure! Here it is.",)
    assert state.decisions == ("Use Postgres",)
    assert state.tasks == ("Fix the loader",)


@settings(max_examples=100, deadline=None)
@given(state=states)
def test_json_round_trip(state: SummaryState) -> None:
    """from_json(to_json(s)) through real JSON text is s."""
    assert SummaryState.from_json(json.loads(json.dumps(state.to_json()))) == state


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ([], "mapping"),
        ({"facts": ["a"], "fatcs": ["b"]}, "'fatcs'"),
        ({"facts": "My name is Priya"}, "'facts'"),
        ({"tasks": ["a", 3]}, "'tasks'"),
        ({"version": 2}, "'version'"),
    ],
)
def test_bad_json_is_a_one_line_error_naming_the_key(data: object, named: str) -> None:
    """Malformed checkpoint data is refused with one line that names what is wrong."""
    with pytest.raises(ConfigurationError) as caught:
        SummaryState.from_json(data)
    assert named in str(caught.value)
    assert "\n" not in str(caught.value)


def test_duplicates_and_near_duplicates_are_kept_once_the_older_wording() -> None:
    """Equal after casefold/punctuation/attribution, or word-set Jaccard >= 0.8: kept once."""
    state = SummaryState(
        facts=("My name is Priya.",),
        decisions=("user: my name is PRIYA",),
        narrative=(
            "The Rotterdam loader failed after the nightly retry job ran",
            "the rotterdam loader failed after the nightly retry job ran twice",
            "The Lisbon loader failed",
        ),
    )
    assert state.facts == ("My name is Priya.",)
    assert state.decisions == ()
    assert state.narrative == (
        "The Rotterdam loader failed after the nightly retry job ran",
        "The Lisbon loader failed",
    )


def test_fit_drops_narrative_before_facts_and_weak_facts_first() -> None:
    """Over budget, narrative goes first; among facts, the lowest ranked go first."""
    state = SummaryState(
        facts=("I live in Ljubljana", "My standup is at 7:45", "I like it"),
        narrative=tuple(f"assistant: step {i} of the long story went fine" for i in range(30)),
    )
    facts_only = SummaryState(facts=state.facts).render()
    fitted = state.fit(TOK.count(facts_only), TOK)
    assert fitted.render() == facts_only
    smaller = state.fit(TOK.count(facts_only) - 2, TOK)
    assert smaller.facts == ("I live in Ljubljana", "My standup is at 7:45")
    assert smaller.narrative == ()


def test_fit_drops_the_oldest_narrative_first() -> None:
    """Narrative keeps its newest lines."""
    state = SummaryState(narrative=tuple(f"event number {i} happened here" for i in range(50)))
    fitted = state.fit(60, TOK)
    assert fitted.narrative == state.narrative[-len(fitted.narrative) :]
    assert 0 < len(fitted.narrative) < 50


@settings(max_examples=150, deadline=None)
@given(state=states, limit=st.integers(0, 120))
def test_fit_never_exceeds_its_budget(state: SummaryState, limit: int) -> None:
    """The rendered fitted state's exact o200k count is within the limit."""
    assert TOK.count(state.fit(limit, TOK).render()) <= limit


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(
        st.builds(
            "{}: {}".format, st.sampled_from(["user", "assistant", "tool"]), st.text(max_size=300)
        ),
        max_size=8,
    ),
    limit=st.integers(0, 150),
)
def test_merge_never_exceeds_its_budget(items: list[str], limit: int) -> None:
    """Offline merges of arbitrary items stay within the limit, twice in a row."""
    summarizer = ExtractiveSummarizer()
    state = summarizer.merge(SummaryState(), items, limit)
    state = summarizer.merge(state, items[::-1], limit)
    assert TOK.count(state.render()) <= limit


def test_merge_survives_empty_huge_code_and_surrogate_items() -> None:
    """Empty items, a 10 MB item, code blocks and lone surrogates neither crash nor overflow."""
    items = [
        "",
        "user: ",
        "user: My name is Priya. " + "Lorem ipsum dolor sit. " * 450_000,
        "assistant: ```python\nfor i in range(10):\n    print(i)\n```\nDone.",
        "user: my badge is \ud83d AX-4471 and I live in Porto \udc80.",
        "tool: " + "x" * 100_000,
    ]
    state = ExtractiveSummarizer().merge(SummaryState(), items, 200)
    assert TOK.count(state.render()) <= 200
    assert "Priya" in state.render()
    assert "print(i)" not in state.render()


def test_one_off_user_facts_outrank_repeated_chatter() -> None:
    """A fact said once beats lines built of the conversation's most frequent words."""
    chatter = [
        f"assistant: The loader pipeline retries the loader pipeline step {i}." for i in range(40)
    ]
    items = ["user: I'm allergic to sesame, by the way.", *chatter, "user: ok thanks"]
    state = ExtractiveSummarizer().merge(SummaryState(), items, 60)
    assert "sesame" in state.render()


class PlainSummarizer:
    """A user's summarizer with only summarize(): keeps the last lines that fit."""

    def summarize(self, items: Sequence[str], max_tokens: int) -> str:
        kept: list[str] = []
        for item in reversed(items):
            if TOK.count("\n".join([item, *kept])) > max_tokens:
                break
            kept.insert(0, item)
        return "\n".join(kept)


def test_a_plain_summarizer_merges_without_prefix_nesting() -> None:
    """merge_summary feeds a summarize-only summarizer the state's lines, never 'summary:'."""
    plain = PlainSummarizer()
    assert isinstance(plain, Summarizer)
    assert not isinstance(plain, MergingSummarizer)
    state = SummaryState()
    for turn in range(12):
        items = [f"user: question {turn} about the loader", f"assistant: answer {turn}"]
        state = merge_summary(plain, state, items, 80)
        rendered = state.render()
        assert TOK.count(rendered) <= 80
        assert not any(NESTED.match(line) for line in rendered.splitlines()), rendered
    assert "assistant: answer 11" in state.narrative


def test_merge_summary_prefers_a_summarizers_merge() -> None:
    """Both shipped summarizers are MergingSummarizers and merge_summary calls their merge."""
    calls: list[str] = []

    def model(prompt: str) -> str:
        calls.append(prompt)
        return "Decisions:\n- use Postgres"

    llm = LLMSummarizer(model)
    assert isinstance(llm, MergingSummarizer)
    assert isinstance(ExtractiveSummarizer(), MergingSummarizer)
    state = merge_summary(llm, SummaryState(facts=("I live in Porto",)), ["user: hi"], 50)
    assert state == SummaryState(decisions=("use Postgres",))
    assert "- I live in Porto" in calls[0]
    assert "user: hi" in calls[0]


@pytest.mark.data
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_facts_survive_ten_merges_on_real_conversations(
    shared_data: Path, seed: int
) -> None:
    """Of 10 one-off user facts planted in ShareGPT chunks, >= 8 survive 10 offline merges
    into 1,000 tokens, 10 with an LLM that returns the facts it is shown, 0 of the old way."""
    chunks = facts.stream(seed, 10)
    planted = facts.plant(chunks, seed)
    assert facts.survivors(facts.run_offline(chunks), planted) >= 8
    assert facts.survivors(facts.run_llm(chunks, planted), planted) == 10
    assert facts.survivors(facts.run_old(chunks), planted) <= 2


@pytest.mark.data
def test_unseen_facts_and_phrasings_survive_too(shared_data: Path) -> None:
    """Facts of other kinds and wordings than the benchmark's: >= 8 of 10 survive."""
    sentences = {
        "Gdańsk": "Fun fact: I was born in 1987 in Gdańsk.",
        "2025-09-13": "Our wedding is on 2025-09-13, so things are hectic.",
        "Esperanto": "I'd rather you answer in Esperanto from now on.",
        "Biscuit": "My cat Biscuit is 9 years old.",
        "lactose": "I'm lactose intolerant, for what it's worth.",
        "555-0142": "My phone number is 555-0142.",
        "17th": "We agreed to ship the beta on the 17th.",
        "4,800": "The budget we settled on is 4,800 euros.",
        "3:30": "My dentist appointment is at 3:30 pm tomorrow.",
        "Karolinska": "I work as a nurse at Karolinska hospital.",
    }
    chunks = facts.stream(21, 10)
    for n, sentence in enumerate(sentences.values()):
        chunk = chunks[[0, 0, 1, 2, 3, 4, 5, 6, 7, 8][n]]
        i = next(i for i, x in enumerate(chunk) if x.startswith("user: "))
        chunk[i] = f"{chunk[i]}\n{sentence}"
    rendered = facts.run_offline(chunks)
    assert sum(key in rendered for key in sentences) >= 8


@pytest.mark.data
def test_no_summary_token_is_a_repeated_prefix_after_thirty_merges(shared_data: Path) -> None:
    """After 30 merges no rendered line nests prefixes, where the old way is mostly prefixes."""
    chunks = facts.stream(4, 30)
    rendered = facts.run_offline(chunks)
    assert not any(NESTED.match(line) for line in rendered.splitlines())
    assert facts.prefix_share(rendered) == 0.0
    assert TOK.count(rendered) <= facts.BUDGET
    assert facts.prefix_share(facts.run_old(chunks)) > 0.5


@pytest.mark.data
def test_the_facts_benchmark_smoke_run_prints_its_tables(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """python -m benchmarks.facts --smoke prints the retention and prefix tables."""
    facts.main(["--smoke"])
    out = capsys.readouterr().out
    assert "| 1 |" in out
    assert "| offline merge | 0.0% |" in out
