"""Huge items (a 10 MB line with no spaces, BPE's slowest case) cost what the cap allows.

A build never counts or encodes such an item in full: its count is bounded from below by the
tokenizer's declared bound (``max_token_bytes``, ``count_lower_bound``), and cutting it encodes
only a window at its kept end. The guarantees stay exact: the output's count never exceeds the
cap, the kept and removed parts make up the item, and a demand that is only a bound is reported
as inexact.
"""

from __future__ import annotations

import base64
import doctest
import json
import random
import string
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctxbudget import (
    ContextBuilder,
    RequiredSectionsExceedCap,
    Section,
    build_context,
    get_tokenizer,
)
from ctxbudget.context._trimming import cut_item
from ctxbudget.testing import CharTokenizer, WordTokenizer
from ctxbudget.tokenizers import _tiktoken
from ctxbudget.tokenizers._approx import ApproxTokenizer
from ctxbudget.tokenizers._tiktoken import _byte_values

O200K = get_tokenizer("o200k_base")
MARKER = "[…]"
MB = 1_000_000


class Spy:
    """A tokenizer that records the longest text it was asked to count or encode.

    With ``bounds=True`` it passes on the inner tokenizer's lower bounds, as a user's tokenizer
    may declare them; without, it is a tokenizer that declares none.
    """

    def __init__(self, inner: object, *, bounds: bool = True) -> None:
        self.inner = inner
        self.name = f"spy-{inner.name}"  # type: ignore[attr-defined]
        self.longest = 0
        if bounds:
            self.max_token_bytes = inner.max_token_bytes  # type: ignore[attr-defined]
            self.count_lower_bound = inner.count_lower_bound  # type: ignore[attr-defined]

    def count(self, text: str) -> int:
        self.longest = max(self.longest, len(text))
        return int(self.inner.count(text))  # type: ignore[attr-defined]

    def encode(self, text: str) -> list[int]:
        self.longest = max(self.longest, len(text))
        return list(self.inner.encode(text))  # type: ignore[attr-defined]

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.inner.decode(ids))  # type: ignore[attr-defined]


class BoundedApprox(ApproxTokenizer):
    """One token per ``k`` characters, declaring ``max_token_bytes = 4 * k`` (true: a character
    is at most 4 bytes); cheap enough for property tests of huge-ish items."""

    def __init__(self, k: int) -> None:
        super().__init__(k)
        self.max_token_bytes = 4 * k


def _base64(size: int) -> str:
    return base64.b64encode(random.Random(1).randbytes(size)).decode()[:size]


def _alnum(size: int) -> str:
    alphabet = (string.ascii_letters + string.digits).encode()
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    return random.Random(2).randbytes(size).translate(table).decode()


def _json(size: int) -> str:
    rng = random.Random(3)
    records = [
        {"id": rng.randrange(10**9), "name": _alnum(12), "score": round(rng.random(), 4)}
        for _ in range(2_000)
    ]
    chunk = json.dumps(records, separators=(",", ":"))
    return (chunk * (size // len(chunk) + 1))[:size]


KINDS: dict[str, Callable[[int], str]] = {
    "base64": _base64,
    "alnum": _alnum,
    "one letter": lambda size: "a" * size,
    "minified json": _json,
}


def _cost(tok: object, item: str, length: int, keep: str) -> int:
    """Exact tokens of the marker plus the ``length`` characters kept at ``keep``."""
    kept = item[len(item) - length :] if keep == "end" else item[:length]
    return int(tok.count(MARKER + kept if keep == "end" else kept + MARKER))  # type: ignore[attr-defined]


def _body(text: str) -> str:
    """The body of the first section in the default template's text."""
    return text.split("\n", 1)[1].split("\n\n", 1)[0]


# -- the regression: bounded work -----------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("keep", ["end", "start"])
def test_a_10_mb_line_is_never_counted_or_encoded_whole(kind: str, keep: str) -> None:
    """No text the tokenizer counts or encodes is longer than 16 characters per token of the
    cap (before: the whole 10 MB, twice); the output still fits and nothing is lost."""
    item = KINDS[kind](10 * MB)
    spy = Spy(O200K)
    result = build_context(
        [
            Section(name="notes", content=item, keep=keep),  # type: ignore[arg-type]
            Section(name="facts", content="sky is blue"),
        ],
        max_tokens=4_000,
        tokenizer=spy,
    )
    assert spy.longest <= 4_000 * 16
    assert O200K.count(result.text) == result.tokens <= 4_000
    report = result.section("notes")
    assert report.status == "trimmed"
    assert report.cut
    assert not report.demand_exact
    assert report.tokens_demanded > 4_000
    body = _body(result.text)
    if keep == "end":
        assert body.startswith(MARKER)
        assert report.trimmed_items == [item[: len(item) - len(body) + len(MARKER)]]
        assert report.trimmed_items[0] + body[len(MARKER) :] == item
    else:
        assert body.endswith(MARKER)
        assert body[: -len(MARKER)] + report.trimmed_items[0] == item
    assert result.section("facts").status == "full"


def test_a_required_huge_item_raises_without_being_counted() -> None:
    """A required item over the cap raises as before; the tokens it needs are at least the
    number given, which is a lower bound of its real count."""
    item = _base64(600_000)
    spy = Spy(O200K)
    with pytest.raises(RequiredSectionsExceedCap) as info:
        build_context(
            [Section(name="rules", content=item, required=True)], max_tokens=4_000, tokenizer=spy
        )
    assert spy.longest < 1_000
    assert 4_000 < info.value.needed <= O200K.count(item) + O200K.count("## Rules\n")
    assert info.value.sections == ("rules",)


def test_the_archive_gets_a_bound_for_a_block_larger_than_the_cap() -> None:
    """Archived removals of a huge item are exact text; their tokens, not counted, are a lower
    bound that the summary calls one."""
    item = _alnum(2 * MB)
    spy = Spy(O200K)
    builder = ContextBuilder(tokenizer=spy, archive="memory://")
    result = builder.build({"notes": item}, max_tokens=2_000)
    report = result.section("notes")
    assert spy.longest <= 2_000 * 16
    assert builder.archive is not None
    assert report.archived_id is not None
    block = builder.archive.get(report.archived_id)
    assert [block.content] == report.trimmed_items  # one block per trimmed item
    assert block.content + _body(result.text)[len(MARKER) :] == item
    assert 2_000 < block.tokens <= O200K.count(block.content)
    assert "at least" in block.summary


# -- exactness of what is kept and reported -------------------------------------------------


@pytest.mark.parametrize("keep", ["end", "start"])
def test_a_bounded_item_among_others_is_removed_whole(keep: str) -> None:
    """Items beyond a huge one are never kept; the huge one is removed whole, in its place."""
    huge = _base64(MB)
    content = f"first\nsecond\n{huge}\nnewest"
    result = build_context(
        [Section(name="notes", content=content, keep=keep)],  # type: ignore[arg-type]
        max_tokens=4_000,
        tokenizer=O200K,
    )
    report = result.section("notes")
    assert not report.demand_exact
    assert not report.cut
    if keep == "end":
        assert result.text == "## Notes\nnewest"
        assert report.trimmed_items == ["first", "second", huge]
    else:
        assert result.text == "## Notes\nfirst\nsecond"
        assert report.trimmed_items == [huge, "newest"]


@pytest.mark.parametrize("keep", ["end", "start"])
@pytest.mark.parametrize("unit", ["😀é漢字a", "👨‍👩‍👧‍👦ß", "\u0301e\u20ac"])
def test_a_cut_through_multibyte_text_keeps_whole_characters(keep: str, unit: str) -> None:
    """Emoji, ZWJ sequences, combining marks near the cut: whole code points only, no
    replacement character, the item recovered exactly."""
    item = unit * (300_000 // len(unit))
    result = build_context(
        [Section(name="notes", content=[item], keep=keep)],  # type: ignore[arg-type]
        max_tokens=500,
        tokenizer=O200K,
    )
    assert O200K.count(result.text) == result.tokens <= 500
    assert "\ufffd" not in result.text
    report = result.section("notes")
    assert not report.demand_exact
    body = _body(result.text)
    if keep == "end":
        kept = body[len(MARKER) :]
        assert report.trimmed_items[0] + kept == item
    else:
        kept = body[: -len(MARKER)]
        assert kept + report.trimmed_items[0] == item
    assert len(kept) > 50


def test_declaring_bounds_changes_the_report_only() -> None:
    """The same build through a tokenizer that declares no bound counts the item whole (as it
    always did) and keeps exactly the same text; only the demand is then its exact count."""
    item = _base64(40_000)
    sections = {"notes": item, "facts": "sky is blue\ngrass is green"}
    bounded, plain = Spy(O200K), Spy(O200K, bounds=False)
    fast = build_context(sections, max_tokens=200, tokenizer=bounded)
    slow = build_context(sections, max_tokens=200, tokenizer=plain)
    assert fast.text == slow.text
    assert fast.trimmed == slow.trimmed
    assert plain.longest >= len(item) > 8 * bounded.longest
    fast_notes, slow_notes = fast.section("notes"), slow.section("notes")
    assert not fast_notes.demand_exact
    assert fast_notes.tokens_demanded < slow_notes.tokens_demanded
    bound = O200K.count_lower_bound(item, 200)  # type: ignore[attr-defined]
    header = fast_notes.tokens_demanded - bound
    assert slow_notes.tokens_demanded == header + O200K.count(item)


def test_a_cached_measurement_is_counted_again_when_the_cap_grows_past_a_bound() -> None:
    """The builder reuses a text's measurement between builds; a bound recorded under a small
    cap is not trusted under a cap it no longer exceeds."""
    tok = BoundedApprox(1)  # exact count: one token per character; bound: a quarter of that
    item = "x" * 1_000
    builder = ContextBuilder(tokenizer=tok)
    small = builder.build({"notes": item}, max_tokens=200).section("notes")
    assert not small.demand_exact
    assert small.cut
    large = builder.build({"notes": item}, max_tokens=2_000).section("notes")
    assert large.demand_exact
    assert large.status == "full"
    assert large.tokens_demanded == tok.count("## Notes\n") + 1_000
    again = builder.build({"notes": item}, max_tokens=200).section("notes")
    assert again.cut
    assert again.tokens_used <= 200


huge_ish = st.builds(
    lambda unit, times: unit * times,
    st.text(alphabet="ab=/ é😀\n", min_size=1, max_size=6),
    st.integers(1, 400),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(huge_ish, min_size=1, max_size=4),
    other=st.lists(st.text(alphabet="xyz ", min_size=1, max_size=30), max_size=5),
    cap=st.integers(20, 300),
    keep=st.sampled_from(["end", "start"]),
    as_text=st.booleans(),
)
def test_bounds_never_change_what_is_kept(
    items: list[str], other: list[str], cap: int, keep: str, as_text: bool
) -> None:
    """With a bound declared (a quarter of the exact count), every build keeps and removes
    exactly what the exact build does, within the cap, and says when a demand is a bound."""
    items = [i for i in items if i.strip()] or ["q" * 500]
    content: str | list[str] = "\n".join(items) if as_text else items
    sections = [
        Section(name="big", content=content, keep=keep),  # type: ignore[arg-type]
        Section(name="other", content=[o for o in other if o.strip()], weight=0.5),
    ]
    try:
        exact = build_context(sections, max_tokens=cap, tokenizer=ApproxTokenizer(2))
    except RequiredSectionsExceedCap:  # pragma: no cover - nothing is required here
        raise
    bounded = build_context(sections, max_tokens=cap, tokenizer=BoundedApprox(2))
    assert bounded.text == exact.text
    assert bounded.tokens == exact.tokens <= cap
    for a, b in zip(bounded.sections, exact.sections, strict=True):
        assert (a.status, a.items_kept, a.cut, a.trimmed_items) == (
            b.status,
            b.items_kept,
            b.cut,
            b.trimmed_items,
        )
        assert a.tokens_demanded <= b.tokens_demanded
        assert a.demand_exact <= b.demand_exact
        if a.tokens_demanded < b.tokens_demanded:
            assert not a.demand_exact


# -- cut_item: the cut is settled by exact counts -------------------------------------------

cut_text = st.text(alphabet="ab =/é😀漢\u0301", min_size=1, max_size=3_000)


@settings(max_examples=200, deadline=None)
@given(item=cut_text, room=st.integers(1, 400), keep=st.sampled_from(["end", "start"]))
def test_a_cut_fits_and_one_more_character_would_not(item: str, room: int, keep: str) -> None:
    """The kept part with its marker costs at most ``room`` (counted exactly), one more
    character would cost more, and kept plus removed is the item."""
    cut = cut_item(item, room, keep=keep, marker=MARKER, tokenizer=O200K)  # type: ignore[arg-type]
    if cut is None:
        assert _cost(O200K, item, 1, keep) > room
        return
    n = len(cut.kept)
    assert cut.tokens == _cost(O200K, item, n, keep) <= room
    assert n == len(item) or _cost(O200K, item, n + 1, keep) > room
    assert (cut.removed + cut.kept if keep == "end" else cut.kept + cut.removed) == item


def _whole_item_cut(item: str, room: int, keep: str, tok: object) -> int:
    """Length kept by the cut of earlier versions: encode the whole item, guess from its
    ``room`` ids at the kept end, then a bisection of exact counts from 0 (the reference)."""

    def fits(length: int) -> bool:
        return _cost(tok, item, length, keep) <= room

    ids = tok.encode(item)  # type: ignore[attr-defined]
    lo, hi = 0, min(len(item), len(tok.decode(ids[-room:] if keep == "end" else ids[:room])) + 1)  # type: ignore[attr-defined]
    while fits(hi) and hi < len(item):
        lo, hi = hi, min(len(item), 2 * hi)
    if fits(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


@settings(max_examples=150, deadline=None)
@given(item=cut_text, room=st.integers(1, 400), keep=st.sampled_from(["end", "start"]))
def test_the_windowed_cut_is_the_whole_item_cut(item: str, room: int, keep: str) -> None:
    """Where counts dip, two cuts may both fit with one more character over; the window picks
    the one the whole-item bisection of earlier versions picks, so outputs do not change."""
    cut = cut_item(item, room, keep=keep, marker=MARKER, tokenizer=O200K)  # type: ignore[arg-type]
    assert (len(cut.kept) if cut else 0) == _whole_item_cut(item, room, keep, O200K)


@pytest.mark.parametrize("tok", [CharTokenizer(), WordTokenizer()], ids=["char", "word"])
@settings(max_examples=100, deadline=None)
@given(
    item=st.text(alphabet="ab ", min_size=1, max_size=2_000),
    room=st.integers(1, 300),
    keep=st.sampled_from(["end", "start"]),
)
def test_with_monotone_counts_the_cut_is_the_longest_that_fits(
    tok: object, item: str, room: int, keep: str
) -> None:
    """Where counts never fall as text grows, the cut keeps what an exhaustive search would."""
    fitting = [n for n in range(1, len(item) + 1) if _cost(tok, item, n, keep) <= room]
    cut = cut_item(item, room, keep=keep, marker=MARKER, tokenizer=tok)  # type: ignore[arg-type]
    assert (len(cut.kept) if cut else 0) == max(fitting, default=0)


def test_a_cut_with_a_lossy_decode_still_settles_on_exact_counts(
    hf_tokenizer_json: Path,
) -> None:
    """A Hugging Face tokenizer's decoded window only guides the cut; exact counts settle it."""
    tok = get_tokenizer(f"hf:{hf_tokenizer_json}")
    item = "Maya works in Lisbon and prefers short answers. " * 2_000
    for keep in ("end", "start"):
        cut = cut_item(item, 300, keep=keep, marker=MARKER, tokenizer=tok)  # type: ignore[arg-type]
        assert cut is not None
        n = len(cut.kept)
        assert cut.tokens == _cost(tok, item, n, keep) <= 300
        assert _cost(tok, item, n + 1, keep) > 300


def test_nothing_fits_gives_no_cut() -> None:
    """``None`` when not even one character fits with the marker, or the item is empty."""
    assert cut_item("abc", 3, keep="end", marker=MARKER, tokenizer=CharTokenizer()) is None
    assert cut_item("", 100, keep="end", marker=MARKER, tokenizer=CharTokenizer()) is None
    cut = cut_item("abc", 4, keep="start", marker=MARKER, tokenizer=CharTokenizer())
    assert cut is not None
    assert (cut.kept, cut.removed, cut.tokens) == ("a", "bc", 4)


# -- the tiktoken lower bound ----------------------------------------------------------------


def test_max_token_bytes_is_the_longest_token() -> None:
    """o200k_base's longest token is 128 bytes, from the encoding's own byte values."""
    encoding = O200K.encoding  # type: ignore[attr-defined]
    assert O200K.max_token_bytes == max(map(len, encoding.token_byte_values())) == 128  # type: ignore[attr-defined]


bound_text = st.builds(
    lambda parts, times: "".join(parts) * times,
    st.lists(
        st.sampled_from(["a", "=", "-", "/", " ", "ab", "0123", "é", "😀", "\n", "x" * 20, "."]),
        min_size=1,
        max_size=12,
    ),
    st.integers(1, 600),
)


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
@settings(max_examples=150, deadline=None)
@given(text=bound_text, above=st.integers(0, 400))
def test_the_lower_bound_never_exceeds_the_count(name: str, text: str, above: int) -> None:
    """``count_lower_bound`` is a true lower bound, whatever the text and ``above``."""
    tok = get_tokenizer(name)
    assert tok.count_lower_bound(text, above) <= tok.count(text)  # type: ignore[attr-defined]


def test_the_lower_bound_shows_a_long_run_exceeds_the_cap() -> None:
    """No o200k token is longer than 8 a's, so 100,000 a's need over 8,000 tokens (12,500)."""
    assert O200K.count_lower_bound("a" * 100_000, 8_000) > 8_000  # type: ignore[attr-defined]
    assert O200K.count_lower_bound(_base64(200_000), 8_000) > 8_000  # type: ignore[attr-defined]


@given(data=st.binary(max_size=20_000))
def test_byte_values_are_the_distinct_bytes(data: bytes) -> None:
    """The set of byte values found by passes of ``bytes.translate`` is ``set(data)``."""
    assert set(_byte_values(data)) == set(data)


def test_docstring_examples_hold() -> None:
    """The >>> examples of the tiktoken module run as written."""
    failures, _ = doctest.testmod(_tiktoken, raise_on_error=False)
    assert failures == 0
