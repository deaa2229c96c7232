"""build_context / ContextBuilder behaviour, with exact expectations worked out by hand.

Most tests use ``CharTokenizer`` (one token per character) so budgets are easy to check.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest

from ctxbudget import (
    BudgetError,
    ConfigurationError,
    ContextBuilder,
    RequiredSectionsExceedCap,
    Section,
    SectionError,
    StoreError,
    TemplateError,
    build_context,
    get_tokenizer,
)
from ctxbudget.testing import CharTokenizer

CHAR = CharTokenizer()


class Store:
    """A minimal synchronous memory store."""

    def __init__(self, name: str, content: object) -> None:
        self.name = name
        self.content = content

    def fetch(self) -> object:
        if isinstance(self.content, Exception):
            raise self.content
        return self.content


def test_no_cap_includes_everything_in_the_default_layout() -> None:
    """Without a cap every section is kept, highest weight first, with headers."""
    result = build_context(
        [
            Section(name="low", content="x\ny", weight=1),
            Section(name="high", content="a", weight=2),
        ],
        tokenizer=CHAR,
    )
    assert result.text == "## High\na\n\n## Low\nx\ny"
    assert result.tokens == len(result.text)
    assert result.max_tokens is None
    assert [r.status for r in result.sections] == ["full", "full"]


def test_layout_is_the_same_whether_or_not_anything_was_trimmed() -> None:
    """A trimmed build has the same headers and separators as an untrimmed one."""
    sections = [
        Section(name="a", content="1111\n2222\n3333", weight=1),
        Section(name="b", content="xx", weight=1),
    ]
    full = build_context(sections, tokenizer=CHAR)
    trimmed = build_context(sections, tokenizer=CHAR, max_tokens=len(full.text) - 5)
    assert full.text == "## A\n1111\n2222\n3333\n\n## B\nxx"
    assert trimmed.text == "## A\n2222\n3333\n\n## B\nxx"


def test_keep_end_keeps_newest_lines_and_reports_removed_ones() -> None:
    """Trimming removes the oldest lines first and reports them verbatim, in order."""
    lines = [f"line {i}" for i in range(10)]  # 6 characters each
    result = build_context(
        [Section(name="log", content="\n".join(lines))], tokenizer=CHAR, max_tokens=7 + 6 * 3 + 2
    )
    # header "## Log\n" is 7 tokens; three lines and two newlines are 20
    assert result.text == "## Log\nline 7\nline 8\nline 9"
    report = result.section("log")
    assert report.status == "trimmed"
    assert report.items_kept == 3
    assert report.items_trimmed == 7
    assert report.trimmed_items == lines[:7]
    assert report.trimmed_text == "\n".join(lines[:7])
    assert result.trimmed == {"log": lines[:7]}


def test_keep_start_keeps_the_first_items() -> None:
    """keep='start' keeps the oldest items and removes from the end."""
    result = build_context(
        [Section(name="doc", content=["alpha", "beta", "gamma"], keep="start")],
        tokenizer=CHAR,
        max_tokens=7 + 5 + 1 + 4,
    )
    assert result.text == "## Doc\nalpha\nbeta"
    assert result.section("doc").trimmed_items == ["gamma"]


def test_blank_lines_are_kept_between_kept_items_and_not_counted_as_items() -> None:
    """Blank lines are gaps: kept verbatim inside the kept range, never items of their own."""
    result = build_context({"n": "a\n\nb\n\n\nc\n"}, tokenizer=CHAR)
    assert result.text == "## N\na\n\nb\n\n\nc"
    assert result.section("n").items_kept == 3


def test_paragraph_and_bullet_items_are_kept_whole() -> None:
    """Multi-line items are never split by trimming."""
    bullets = "- one\n  more one\n- two\n  more two\n- three"
    result = build_context(
        [Section(name="b", content=bullets, split="bullets")], tokenizer=CHAR, max_tokens=35
    )
    assert result.text == "## B\n- two\n  more two\n- three"
    assert result.section("b").trimmed_items == ["- one\n  more one"]
    paragraphs = "p1 l1\np1 l2\n\np2 l1\np2 l2"
    result = build_context(
        [Section(name="p", content=paragraphs, split="paragraphs")], tokenizer=CHAR, max_tokens=20
    )
    assert result.text == "## P\np2 l1\np2 l2"


def test_section_that_cannot_hold_header_and_one_item_is_dropped() -> None:
    """A section whose allocation cannot hold header plus one item is dropped and reported."""
    result = build_context(
        [Section(name="a", content="aaaa", weight=1), Section(name="b", content="bbbb", weight=1)],
        tokenizer=CHAR,
        max_tokens=16,
    )
    # each section needs 5 + 4 = 9; the separator makes 20 in all; only one fits
    assert result.tokens <= 16
    statuses = {r.name: r.status for r in result.sections}
    assert sorted(statuses.values()) == ["dropped", "full"]
    dropped = next(r for r in result.sections if r.status == "dropped")
    assert dropped.trimmed_items == ["aaaa" if dropped.name == "a" else "bbbb"]


def test_oversized_item_is_cut_with_marker_at_a_character_boundary() -> None:
    """An item larger than its allocation is cut, marked, and never split mid-character."""
    item = "😀é" * 100
    result = build_context(
        [Section(name="big", content=[item])], tokenizer="o200k_base", max_tokens=40
    )
    report = result.section("big")
    assert report.status == "trimmed"
    assert report.cut
    body = result.text.split("\n", 1)[1]
    assert body.startswith("[…]")
    kept = body[len("[…]") :]
    assert kept
    assert item.endswith(kept)
    assert report.trimmed_items[-1] + kept == item  # nothing lost: removed + kept is the item
    assert "\ufffd" not in result.text
    assert get_tokenizer("o200k_base").count(result.text) <= 40


def test_required_section_is_kept_whole_even_with_low_weight() -> None:
    """Required sections are never trimmed; others give way."""
    result = build_context(
        [
            Section(name="rules", content="R" * 30, weight=0.01, required=True),
            Section(name="chat", content="\n".join(["c" * 9] * 10), weight=1),
        ],
        tokenizer=CHAR,
        max_tokens=70,
    )
    assert "R" * 30 in result.text
    assert result.section("rules").status == "full"
    assert result.section("chat").status == "trimmed"
    assert result.tokens <= 70


def test_required_sections_alone_over_the_cap_raise() -> None:
    """When required sections alone exceed the cap the build raises with the numbers."""
    with pytest.raises(RequiredSectionsExceedCap) as info:
        build_context(
            [Section(name="rules", content="R" * 30, required=True)], tokenizer=CHAR, max_tokens=20
        )
    assert info.value.needed == len("## Rules\n") + 30
    assert info.value.cap == 20
    assert info.value.sections == ("rules",)


def test_failing_optional_store_is_reported_and_does_not_sink_the_build() -> None:
    """An optional store that raises yields a 'failed' report with its error."""
    builder = ContextBuilder(tokenizer=CHAR)
    builder.register(Store("facts", "sky is blue"))
    builder.register(Store("broken", RuntimeError("database down")))
    result = builder.build(max_tokens=100)
    assert result.text == "## Facts\nsky is blue"
    broken = result.section("broken")
    assert broken.status == "failed"
    assert broken.error == "RuntimeError: database down"


def test_store_returning_wrong_type_is_reported_failed() -> None:
    """A store returning neither text nor items fails its section with a TypeError message."""
    builder = ContextBuilder(tokenizer=CHAR)
    builder.register(Store("weird", 42))
    result = builder.build(max_tokens=100)
    assert result.section("weird").status == "failed"
    assert "TypeError" in (result.section("weird").error or "")


def test_failing_required_store_raises_store_error_with_cause() -> None:
    """A required store that raises fails the build, the cause chained."""
    builder = ContextBuilder(tokenizer=CHAR)
    builder.register(Store("rules", ValueError("boom")), required=True)
    with pytest.raises(StoreError, match="rules") as info:
        builder.build(max_tokens=100)
    assert isinstance(info.value.__cause__, ValueError)


def test_async_stores_are_gathered_concurrently() -> None:
    """abuild runs async stores at the same time: each waits for the other."""
    first_started = asyncio.Event()
    second_started = asyncio.Event()

    class Waiting:
        def __init__(self, name: str, mine: asyncio.Event, other: asyncio.Event) -> None:
            self.name, self.mine, self.other = name, mine, other

        async def fetch(self) -> str:
            self.mine.set()
            await asyncio.wait_for(self.other.wait(), timeout=5)
            return f"{self.name} ok"

    async def run() -> str:
        builder = ContextBuilder(tokenizer=CHAR)
        builder.register(Waiting("a", first_started, second_started))
        builder.register(Waiting("b", second_started, first_started))
        builder.register(Store("c", "sync ok"))
        return (await builder.abuild(max_tokens=1000)).text

    text = asyncio.run(run())
    assert "a ok" in text
    assert "b ok" in text
    assert "sync ok" in text


def test_sync_build_refuses_async_stores() -> None:
    """build() names the async store and points to abuild()."""

    class Async:
        name = "later"

        async def fetch(self) -> str:
            return "x"

    builder = ContextBuilder(tokenizer=CHAR)
    builder.register(Async())
    with pytest.raises(SectionError, match="abuild"):
        builder.build()


@pytest.mark.parametrize(
    "payload",
    [
        "{{ 7 * 7 }}",
        "{% for x in range(3) %}x{% endfor %}",
        "{{ ''.__class__.__mro__ }}",
        "{# comment #} {%raw%}",
    ],
)
def test_content_with_jinja_syntax_is_rendered_verbatim(payload: str) -> None:
    """Memory text is data: Jinja syntax in it is never evaluated."""
    result = build_context(
        [Section(name="notes", content=payload, title="T {{ 1 + 1 }}")], tokenizer=CHAR
    )
    assert result.text == f"## T {{{{ 1 + 1 }}}}\n{payload}"


def test_sandbox_blocks_unsafe_template_access() -> None:
    """A template reaching for Python internals fails with TemplateError."""
    template = "{{ sections.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(TemplateError):
        build_context({"a": "x"}, tokenizer=CHAR, template=template)


def test_bad_template_syntax_names_the_line() -> None:
    """A template that does not parse raises TemplateError with its line."""
    with pytest.raises(TemplateError) as info:
        ContextBuilder(tokenizer=CHAR, template="line one\n{% for x in %}")
    assert info.value.line == 2


def test_template_text_counts_against_the_cap() -> None:
    """A template's own text is counted: preamble plus sections fit the cap."""
    template = "PREAMBLE-" * 5 + "{% for s in sections %}[{{ s.name }}]{{ s.body }}{% endfor %}"
    result = build_context(
        {"a": "\n".join(["aaaa"] * 20)}, tokenizer=CHAR, template=template, max_tokens=70
    )
    assert result.tokens <= 70
    assert result.text.startswith("PREAMBLE-" * 5 + "[a]")
    assert result.tokens >= 60


def test_cap_below_template_text_raises_budget_error() -> None:
    """A cap that cannot hold the template's own text is a BudgetError."""
    with pytest.raises(BudgetError, match="template"):
        build_context(
            {"a": "x"}, tokenizer=CHAR, template="0123456789{{ sections|length }}", max_tokens=5
        )


def test_section_max_tokens_is_honoured_even_without_a_cap() -> None:
    """A section's own max_tokens limits it, header included."""
    result = build_context(
        [Section(name="a", content="\n".join(["xxxx"] * 10), max_tokens=5 + 4 + 5)],
        tokenizer=CHAR,
    )
    assert result.text == "## A\nxxxx\nxxxx"


def test_min_tokens_guarantees_a_low_priority_section_its_floor() -> None:
    """min_tokens reserves room for a low-weight section before weights share the rest."""
    lines = "\n".join(["yyyy"] * 50)
    result = build_context(
        [
            Section(name="big", content=lines, weight=1.0),
            Section(name="low", content=lines, weight=0.001, min_tokens=30),
        ],
        tokenizer=CHAR,
        max_tokens=100,
    )
    assert result.section("low").tokens_used >= 25
    assert result.tokens <= 100


def test_strict_strategy_serves_higher_priority_whole_first() -> None:
    """Under strict allocation the lower section is dropped before the higher is trimmed."""
    result = build_context(
        [
            Section(name="hi", content="\n".join(["h" * 9] * 5), weight=2),
            Section(name="lo", content="\n".join(["l" * 9] * 5), weight=1),
        ],
        tokenizer=CHAR,
        max_tokens=60,
        strategy="strict",
    )
    assert result.section("hi").status == "full"
    assert result.section("lo").status == "dropped"


def test_preset_supplies_weights_and_unknown_sections_get_default_weight() -> None:
    """Weights come from the preset by section name; unnamed sections get default_weight."""
    result = build_context(
        {"procedures": "p", "summaries": "s", "misc": "m"}, tokenizer=CHAR, preset="default"
    )
    weights = {r.name: r.priority for r in result.sections}
    assert weights == {"summaries": 0.25, "procedures": 0.05, "misc": 0.05}
    assert [r.name for r in result.sections] == ["summaries", "procedures", "misc"]


def test_duplicate_section_names_are_rejected() -> None:
    """Two sections of one name are ambiguous and rejected."""
    with pytest.raises(SectionError, match="'a'"):
        build_context([Section(name="a", content="x"), Section(name="a", content="y")])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"weight": -1},
        {"weight": float("nan")},
        {"weight": True},
        {"min_tokens": -5},
        {"max_tokens": 1.5},
        {"min_tokens": 10, "max_tokens": 5},
        {"keep": "middle"},
        {"split": "words"},
        {"required": "yes"},
        {"content": b"bytes"},
        {"content": 42},
    ],
)
def test_invalid_section_options_raise_section_error_naming_section(kwargs: dict) -> None:
    """Bad section options are rejected at construction, naming the section."""
    args = {"name": "facts", "content": "x", **kwargs}
    with pytest.raises(SectionError, match="'facts'"):
        Section(**args)


def test_non_string_item_in_sequence_content_names_its_index() -> None:
    """A non-string item is reported with its index."""
    with pytest.raises(SectionError, match="item 1"):
        build_context({"facts": ["ok", 3, "ok"]}, tokenizer=CHAR)  # type: ignore[list-item]


@pytest.mark.parametrize("cap", [-1, 2.5, True, "100"])
def test_invalid_cap_is_rejected(cap: object) -> None:
    """max_tokens must be a whole number >= 0."""
    with pytest.raises(ConfigurationError, match="max_tokens"):
        build_context({"a": "x"}, max_tokens=cap)  # type: ignore[arg-type]


def test_report_to_dict_is_json_ready_and_complete() -> None:
    """to_dict() serializes to JSON with the text, counts and every section report."""
    result = build_context({"a": "one\ntwo\nthree"}, tokenizer=CHAR, max_tokens=13)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["text"] == "## A\nthree"
    assert data["tokens"] == 10
    assert data["max_tokens"] == 13
    assert data["tokenizer"] == "test-char"
    section = data["sections"][0]
    assert section["status"] == "trimmed"
    assert section["trimmed_items"] == ["one", "two"]
    assert section["items_kept"] == 1


def test_approx_tokenizer_marks_the_report_approximate() -> None:
    """Builds measured with 'approx' say so."""
    assert build_context({"a": "x"}, tokenizer="approx").approximate
    assert not build_context({"a": "x"}).approximate


class CountingTokenizer(CharTokenizer):
    """Counts how many characters it was asked to measure."""

    def __init__(self) -> None:
        self.measured = 0

    def count(self, text: str) -> int:
        self.measured += len(text)
        return len(text)


def test_sections_far_larger_than_the_cap_are_not_counted_in_full() -> None:
    """Only items that can reach the window are measured, not the whole stored memory."""
    tok = CountingTokenizer()
    history = "\n".join(f"message number {i:07d}" for i in range(200_000))  # ~4.6M characters
    result = build_context({"history": history}, tokenizer=tok, max_tokens=1000)
    assert result.tokens <= 1000
    assert result.section("history").demand_exact is False
    assert tok.measured < 10_000


class RecordingTokenizer:
    """o200k_base, recording every text it is asked to count."""

    def __init__(self) -> None:
        self.inner = get_tokenizer("o200k_base")
        self.name = "recording-o200k"
        self.newline_additive = True
        self.counted: list[str] = []

    def count(self, text: str) -> int:
        self.counted.append(text)
        return self.inner.count(text)

    def encode(self, text: str) -> list[int]:
        return self.inner.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.inner.decode(ids)


def test_incremental_build_counts_only_the_new_message() -> None:
    """With the builder's count cache, appending one message re-counts only what changed."""
    tok = RecordingTokenizer()
    builder = ContextBuilder(tokenizer=tok)
    history = [f"user: question {i} about the Lumen rollout" for i in range(5000)]
    first = builder.build({"history": history, "facts": "Maya lives in Lisbon"}, max_tokens=2000)
    assert first.section("history").status == "trimmed"
    tok.counted.clear()
    new = "assistant: a brand new answer"
    builder.build({"history": [*history, new], "facts": "Maya lives in Lisbon"}, max_tokens=2000)
    # the new message alone and as the output's last history line (before the blank line
    # between sections), and the previous newest, now counted with the newline after it
    assert sorted(tok.counted) == sorted([new, new + "\n\n", history[-1] + "\n"])


class JoinPenaltyTokenizer(CharTokenizer):
    """Adversarial: joining lines costs more than the parts (count grows with newlines squared)."""

    name = "join-penalty"

    def count(self, text: str) -> int:
        return len(text) + text.count("\n") ** 2


def test_verify_step_trims_further_when_counts_are_not_additive() -> None:
    """Even when joined text counts more than its parts, the final count fits the cap."""
    tok = JoinPenaltyTokenizer()
    result = build_context({"a": "\n".join(["abc"] * 40)}, tokenizer=tok, max_tokens=100)
    assert tok.count(result.text) <= 100
    assert result.tokens == tok.count(result.text)
    assert result.section("a").items_kept > 0


def test_empty_content_yields_no_header() -> None:
    """An empty section is not rendered at all."""
    result = build_context({"empty": "", "blank": "\n\n", "items": [], "a": "x"}, tokenizer=CHAR)
    assert result.text == "## A\nx"


def test_sequence_content_is_joined_with_newlines_in_order() -> None:
    """Items given as a list are kept in order, joined by newlines."""
    result = build_context({"a": ["one", "two", "", "three"]}, tokenizer=CHAR)
    assert result.text == "## A\none\ntwo\nthree"


RULES = "\n".join(f"rule {i}" for i in range(20))


@pytest.mark.parametrize("cap", [1000, None])
def test_required_section_over_its_own_max_tokens_raises_not_trims(cap: int | None) -> None:
    """Required content is never trimmed, even under its own max_tokens: a required section
    larger than that limit raises, naming the section and both numbers (it was silently
    trimmed before, with room to spare)."""
    sections = [
        Section(name="sys", content=RULES, required=True, max_tokens=50),
        Section(name="notes", content="x"),
    ]
    with pytest.raises(RequiredSectionsExceedCap, match=r"'sys' needs .* own max_tokens is 50"):
        build_context(sections, max_tokens=cap, tokenizer=CHAR)


def test_required_section_within_its_max_tokens_is_kept_whole() -> None:
    """With a max_tokens that holds it, a required section is kept whole."""
    sections = [Section(name="sys", content=RULES, required=True, max_tokens=500)]
    result = build_context(sections, max_tokens=1000, tokenizer=CHAR)
    assert result.section("sys").status == "full"
    assert RULES in result.text


def test_allocate_refuses_a_required_demand_over_its_max_tokens() -> None:
    """The pure allocation function holds the same rule."""
    from ctxbudget import allocate

    with pytest.raises(RequiredSectionsExceedCap) as info:
        allocate(100, {"a": 1.0}, demands={"a": 60}, max_tokens={"a": 40}, required=["a"])
    assert (info.value.needed, info.value.cap, info.value.section_limit) == (60, 40, True)


@pytest.mark.parametrize("cap", [2**48 + 1, 10**400])
def test_a_cap_beyond_any_window_is_refused_naming_it(cap: int) -> None:
    """A cap past 2**48 tokens (where float allocation overflowed: 10**400 raised
    OverflowError) is one ConfigurationError naming the limit; 2**48 itself builds."""
    with pytest.raises(ConfigurationError, match=r"max_tokens must be at most 281,474,976,710,656"):
        build_context({"a": "hello"}, max_tokens=cap)
    with pytest.raises(SectionError, match="min_tokens"):
        build_context([Section(name="a", content="hello", min_tokens=cap)], max_tokens=100)
    assert build_context({"a": "hello"}, max_tokens=2**48).text.endswith("hello")


def test_section_reports_show_demand_and_leftover_one_way() -> None:
    """`demand_text` is '-' for a failed section, the count when exact and '>=N' for a lower
    bound; `tokens_leftover` is used beyond allocated, never negative (the CLI report, the
    docs' preset pages and render_snapshot all read these)."""

    class Broken:
        name = "broken"

        def fetch(self) -> str:
            raise OSError("gone")

    builder = ContextBuilder(tokenizer=CharTokenizer())
    builder.register(Broken(), required=False)
    result = builder.build({"small": "abc", "big": ["x" * 40] * 50}, max_tokens=400)
    broken, small, big = (result.section(n) for n in ("broken", "small", "big"))
    assert broken.status == "failed"
    assert broken.demand_text == "-"
    assert small.demand_exact
    # "## Small\nabc" is 12 characters; the 13th is the separator counted with the section
    assert small.demand_text == f"{small.tokens_demanded:,}" == "13"
    assert not big.demand_exact
    assert big.demand_text.startswith(">=")
    assert int(big.demand_text[2:].replace(",", "")) == big.tokens_demanded > 400
    for report in result.sections:
        assert report.tokens_leftover == max(0, report.tokens_used - report.tokens_allocated)
    assert small.tokens_leftover == 0
