"""Count-only tokenizers (a callable ``str -> int``, a provider's counter, a proxy) work
everywhere a tokenizer is used: the builder (cutting by bisection on counts, exact and bounded),
fit_messages, count_prompt, the summarizer, the Compactor and the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import ctxbudget
from ctxbudget import (
    Compactor,
    CountCache,
    Section,
    TokenizerError,
    build_context,
    count_prompt,
    fit_messages,
    get_tokenizer,
)
from ctxbudget.cli import app
from ctxbudget.context._trimming import cut_item
from ctxbudget.memory import TRUNCATED_MARKER, LLMSummarizer
from ctxbudget.tokenizers import CachedTokenizer, CountOnlyTokenizer, truncate
from ctxbudget.tokenizers._cutting import codec_of

O200K = get_tokenizer("o200k_base")
MARKER = "[…]"


class Counter:
    """A count-only tokenizer (no encode/decode) that records what it was asked to count."""

    def __init__(self, count: Callable[[str], int], name: str) -> None:
        self._count = count
        self.name = name
        self.lengths: list[int] = []

    def count(self, text: str) -> int:
        self.lengths.append(len(text))
        return self._count(text)


def o200k_counter() -> Counter:
    return Counter(O200K.count, "o200k-count-only")


def _cost(tok: ctxbudget.Tokenizer, item: str, n: int, keep: str) -> int:
    kept = item[len(item) - n :] if keep == "end" else item[:n]
    return tok.count(MARKER + kept if keep == "end" else kept + MARKER)


# -- the wrapper of a count callable ---------------------------------------------------------


def count_words(text: str) -> int:
    return len(text.split())


def test_a_plain_callable_becomes_a_count_only_tokenizer_named_by_its_qualified_name() -> None:
    """get_tokenizer(fn) wraps fn once, named '<module>.<qualname>', with no encode/decode."""
    tok = get_tokenizer(count_words)
    assert isinstance(tok, CountOnlyTokenizer)
    assert tok.name == f"{__name__}.count_words"
    assert tok.count("three short words") == 3
    assert not hasattr(tok, "encode")
    assert codec_of(tok) is None
    assert get_tokenizer(count_words) is tok


def test_name_comes_from_the_argument_then_the_callables_name_attribute() -> None:
    """name= wins; else a callable's own str ``name``."""

    class Endpoint:
        name = "my-endpoint"

        def __call__(self, text: str) -> int:
            return len(text)

    assert get_tokenizer(count_words, name="words").name == "words"
    assert get_tokenizer(Endpoint()).name == "my-endpoint"
    assert CountOnlyTokenizer(len, name="chars").name == "chars"


def test_lambdas_get_distinct_names_so_their_counts_never_mix_in_a_cache() -> None:
    """Two lambdas share a qualified name; their wrappers do not, so one CountCache keeps
    each one's counts apart."""
    one = get_tokenizer(lambda text: 1)
    two = get_tokenizer(lambda text: 2)
    assert one.name != two.name
    assert "<lambda>" in one.name
    cache = CountCache()
    assert (cache.count(one, "same text"), cache.count(two, "same text")) == (1, 2)


@pytest.mark.parametrize("bad", [-1, 1.5, "3", None, True])
def test_a_count_that_is_not_a_whole_number_is_a_tokenizer_error(bad: object) -> None:
    """A callable returning a negative, fractional, non-numeric or bool count is refused."""
    tok = CountOnlyTokenizer(lambda text: bad, name="bad")  # type: ignore[arg-type,return-value]
    with pytest.raises(TokenizerError, match="bad"):
        tok.count("text")


def test_name_is_refused_for_string_specs() -> None:
    """name= renames wrapped objects only."""
    with pytest.raises(TokenizerError, match="name="):
        get_tokenizer("o200k_base", name="mine")


def test_cached_tokenizer_over_a_count_only_one_counts_but_does_not_encode() -> None:
    """CachedTokenizer counts through its cache; encode/decode say the tokenizer only counts."""
    cached = CachedTokenizer(get_tokenizer(count_words))
    assert cached.count("a b c") == 3
    assert codec_of(cached) is None
    with pytest.raises(TokenizerError, match="only counts"):
        cached.encode("a b c")
    assert codec_of(CachedTokenizer(O200K)) is not None


# -- cutting with counts alone -----------------------------------------------------------------

cut_text = st.text(alphabet="ab =/é😀漢\u0301", min_size=1, max_size=3_000)


@settings(max_examples=150, deadline=None)
@given(item=cut_text, room=st.integers(1, 400), keep=st.sampled_from(["end", "start"]))
def test_a_count_only_cut_fits_and_one_more_character_would_not(
    item: str, room: int, keep: str
) -> None:
    """With o200k_base's counts and no ids, the kept part with its marker costs at most
    ``room`` and one more character would cost more (before, cut_item needed encode())."""
    tok = o200k_counter()
    cut = cut_item(item, room, keep=keep, marker=MARKER, tokenizer=tok)  # type: ignore[arg-type]
    if cut is None:
        assert _cost(O200K, item, 1, keep) > room
        return
    n = len(cut.kept)
    assert cut.tokens == _cost(O200K, item, n, keep) <= room
    assert n == len(item) or _cost(O200K, item, n + 1, keep) > room
    assert (cut.removed + cut.kept if keep == "end" else cut.kept + cut.removed) == item


@settings(max_examples=100, deadline=None)
@given(
    item=st.text(alphabet="ab ", min_size=1, max_size=2_000),
    room=st.integers(1, 300),
    keep=st.sampled_from(["end", "start"]),
)
def test_with_monotone_counts_the_count_only_cut_is_the_longest_that_fits(
    item: str, room: int, keep: str
) -> None:
    """Where counts never fall as text grows (words), the cut keeps what an exhaustive search
    keeps."""
    tok = CountOnlyTokenizer(count_words, name="words")
    fitting = [n for n in range(1, len(item) + 1) if _cost(tok, item, n, keep) <= room]
    cut = cut_item(item, room, keep=keep, marker=MARKER, tokenizer=tok)
    assert (len(cut.kept) if cut else 0) == max(fitting, default=0)


@pytest.mark.parametrize("keep", ["end", "start"])
def test_cutting_a_10_mb_item_by_counts_costs_what_the_room_does(keep: str) -> None:
    """A 10 MB item cut to 2,000 tokens by counts alone: about ten counts, none of more than a
    few times the room's characters; never the whole item."""
    item = ("The loader reads every shard twice before it merges them. " * 180_000)[:10_000_000]
    tok = o200k_counter()
    cut = cut_item(item, 2_000, keep=keep, marker=MARKER, tokenizer=tok)  # type: ignore[arg-type]
    assert cut is not None
    assert cut.tokens <= 2_000 < _cost(O200K, item, len(cut.kept) + 1, keep)
    assert len(tok.lengths) <= 24
    assert max(tok.lengths) <= 4 * len(cut.kept)


def test_truncate_keeps_the_longest_start_or_end_with_its_marker() -> None:
    """truncate() returns fitting text unchanged, else the longest piece that fits with the
    marker, for tokenizers with ids and count-only ones alike."""
    text = "one two three four five six seven eight nine ten"
    words = CountOnlyTokenizer(count_words, name="words")
    assert truncate(text, 10, words) == text
    assert truncate(text, 4, words, marker="…") == "one two three four…"
    assert truncate(text, 4, words, keep="end", marker="…") == "…seven eight nine ten"
    assert truncate(text, 0, words, marker="…") == ""
    cut = truncate(text, 5, "o200k_base", marker="…")
    assert O200K.count(cut) <= 5 < O200K.count(text[: len(cut)] + "…")
    with pytest.raises(ctxbudget.ConfigurationError):
        truncate(text, -1)


# -- everywhere a tokenizer is used ------------------------------------------------------------


def test_build_context_with_a_count_only_tokenizer_cuts_and_stays_within_the_cap() -> None:
    """The builder measures, cuts an oversized item and verifies with counts alone; the result
    counts like o200k_base (the same counts) and never exceeds the cap."""
    sections = [
        Section(name="summaries", content="Maya moved to Lisbon. " * 2_000),
        Section(name="userFacts", content=["Maya prefers short answers", "Maya codes in Rust"]),
    ]
    counter = o200k_counter()
    result = build_context(sections, max_tokens=300, tokenizer=counter)
    assert result.tokens == O200K.count(result.text) <= 300
    assert result.tokenizer == "o200k-count-only"
    summaries = next(s for s in result.sections if s.name == "summaries")
    assert summaries.cut
    assert "Maya prefers short answers" in result.text


def test_fit_messages_and_count_prompt_with_a_count_only_tokenizer_match_o200k() -> None:
    """fit_messages keeps the same messages with the same count under a count-only tokenizer
    that counts like o200k_base; count_prompt agrees."""
    messages = [{"role": "system", "content": "Be brief."}]
    for i in range(40):
        messages.append({"role": "user", "content": f"question {i}: " + "why " * (i % 9)})
        messages.append({"role": "assistant", "content": f"answer {i}: " + "because " * (i % 7)})
    by_ids = fit_messages(messages, 400, tokenizer="o200k_base")
    by_counts = fit_messages(messages, 400, tokenizer=get_tokenizer(O200K.count, name="o200k#c"))
    assert by_counts.messages == by_ids.messages
    assert by_counts.tokens == by_ids.tokens <= 400
    assert count_prompt(messages, tokenizer=get_tokenizer(O200K.count, name="o200k#c")) == (
        count_prompt(messages, tokenizer="o200k_base")
    )


def test_the_llm_summarizer_truncates_with_a_count_only_tokenizer() -> None:
    """An over-long model answer is cut to its longest start that fits with the marker (before,
    truncation needed encode/decode and raised AttributeError)."""
    words = CountOnlyTokenizer(count_words, name="words")
    summarizer = LLMSummarizer(lambda prompt: "word " * 500, tokenizer=words)
    out = summarizer.summarize(["user: hi"], 20)
    assert out.endswith(TRUNCATED_MARKER)
    assert words.count(out) <= 20
    assert ("word " * 500).startswith(out[: -len(TRUNCATED_MARKER)])


def test_the_compactor_runs_on_a_count_only_tokenizer() -> None:
    """A Compactor with a count-only tokenizer keeps every request within its window."""
    words = CountOnlyTokenizer(count_words, name="words")
    agent = Compactor(400, keep_last_turns=2, summary_tokens=60, tokenizer=words)
    for i in range(30):
        request = agent.step({"role": "user", "content": f"message {i} " + "word " * 12})
        assert count_prompt(request, tokenizer=words) <= 400
        agent.add({"role": "assistant", "content": "ok " * 5})
    assert agent.blocks  # it compacted, summarizing with counts alone


def test_cli_count_with_a_count_only_proxy_says_approximate(tmp_path: Path) -> None:
    """`ctxbudget count -t claude-sonnet-4-5` counts with the proxy and marks the counts
    approximate (table title and JSON)."""
    (tmp_path / "facts.md").write_text("Maya works in Lisbon.\n" * 20, encoding="utf-8")
    runner = CliRunner()
    as_json = runner.invoke(app, ["count", str(tmp_path), "--json", "-t", "claude-sonnet-4-5"])
    assert as_json.exit_code == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    proxy = get_tokenizer("claude-sonnet-4-5")
    assert data["approximate"] is True
    assert data["tokenizer"] == proxy.name
    assert data["sections"] == {"facts": proxy.count("Maya works in Lisbon.\n" * 20)}
    table = runner.invoke(app, ["count", str(tmp_path), "-t", "claude-sonnet-4-5"])
    assert table.exit_code == 0, table.stderr
    assert "approximate" in table.stdout
    exact = json.loads(runner.invoke(app, ["count", str(tmp_path), "--json"]).stdout)
    assert exact["approximate"] is False


def test_bound_methods_of_two_tokenizers_never_share_a_name() -> None:
    """o200k_base's count and cl100k_base's count have one qualified name; their wrappers get
    distinct names, so a shared cache never mixes their counts."""
    cl100k = get_tokenizer("cl100k_base")
    first, second = get_tokenizer(O200K.count), get_tokenizer(cl100k.count)
    assert first.name != second.name
    cache = CountCache()
    text = "東京で会いましょう " * 20
    assert cache.count(first, text) == O200K.count(text)
    assert cache.count(second, text) == cl100k.count(text)
