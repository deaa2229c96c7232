"""Invariants of build_context, checked with hypothesis on real tokenizers.

For o200k_base, cl100k_base and a Hugging Face tokenizer.json: the assembled text never exceeds
the cap, required sections are present whole, a higher priority is never trimmed while a lower
one keeps items (strict strategy), kept items keep their order and, with the removed items,
make up the content exactly, and building twice gives the same text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ctxbudget import RequiredSectionsExceedCap, Section, build_context, get_tokenizer

# A delimiter template makes each kept body recoverable from the assembled text.
TEMPLATE = "{% for s in sections %}<<{{ s.name }}>>\n{{ s.body }}\n<</>>\n{% endfor %}"

line_text = (
    st.lists(
        st.sampled_from(
            [
                *"abcdefghij klmnop qrstuvwxyz ABC 0123456789 .,;:!?-'\"()[]{}%#/\\",
                *["é", "ß", "日本", "😀", "{{", "}}", "{%", "%}", "\t", "<|endoftext|>", "  "],
            ]
        ),
        min_size=1,
        max_size=40,
    )
    .map("".join)
    .filter(lambda s: s.strip() != "")
)


@st.composite
def section_sets(draw: st.DrawFn) -> list[Section]:
    count = draw(st.integers(1, 6))
    sections = []
    for i in range(count):
        lines = draw(st.lists(line_text, min_size=0, max_size=25))
        as_text = draw(st.booleans())
        sections.append(
            Section(
                name=f"s{i}",
                content="\n".join(lines) if as_text else lines,
                weight=draw(st.sampled_from([0.05, 0.1, 0.15, 0.25, 0.4, 1.0])),
                required=draw(st.booleans()) if i == 0 and len(lines) <= 3 else None,
                keep=draw(st.sampled_from(["end", "start"])),
            )
        )
    return sections


@pytest.fixture(scope="module", params=["o200k_base", "cl100k_base", "hf"])
def tokenizer(request: pytest.FixtureRequest, hf_tokenizer_json: Path) -> object:
    if request.param == "hf":
        return get_tokenizer(f"hf:{hf_tokenizer_json}")
    return get_tokenizer(request.param)


def original_items(section: Section) -> list[str]:
    content = section.content
    items = content.split("\n") if isinstance(content, str) else list(content)
    return [i for i in items if i.strip()] if isinstance(content, str) else [i for i in items if i]


def kept_bodies(text: str) -> dict[str, str]:
    bodies = {}
    for block in text.split("<</>>\n"):
        if block:
            head, _, body = block.partition("\n")
            bodies[head[2:-2]] = body[:-1] if body.endswith("\n") else body
    return bodies


common = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@common
@given(
    sections=section_sets(),
    cap=st.integers(0, 600),
    strategy=st.sampled_from(["weighted", "strict"]),
)
def test_never_over_cap_required_present_order_kept(
    tokenizer: object, sections: list[Section], cap: int, strategy: str
) -> None:
    """count(text) <= cap; required sections whole; kept + removed items == content, in order."""
    try:
        result = build_context(
            sections,
            max_tokens=cap,
            tokenizer=tokenizer,
            template=TEMPLATE,
            strategy=strategy,  # type: ignore[arg-type]
        )
    except RequiredSectionsExceedCap:
        required = [s for s in sections if s.required]
        alone = build_context(required, tokenizer=tokenizer, template=TEMPLATE)
        assert alone.tokens > cap
        return
    tok = tokenizer
    assert tok.count(result.text) == result.tokens  # type: ignore[attr-defined]
    assert result.tokens <= cap
    bodies = kept_bodies(result.text)
    for section in sections:
        report = result.section(section.name)
        items = original_items(section)
        if section.required and items:
            assert report.status == "full"
        if report.cut:
            continue
        body = bodies.get(section.name, "")
        kept = [i for i in body.split("\n") if i.strip()] if body else []
        assert report.items_kept == len(kept)
        if section.keep == "start":
            assert items[: len(kept)] == kept
            assert report.trimmed_items == items[len(kept) :]
        else:
            assert items[len(items) - len(kept) :] == kept
            assert report.trimmed_items == items[: len(items) - len(kept)]


@common
@given(sections=section_sets(), cap=st.integers(50, 600))
def test_strict_higher_priority_never_trimmed_while_lower_keeps_items(
    tokenizer: object, sections: list[Section], cap: int
) -> None:
    """Strict strategy: if a section lost items, every lower-priority one kept none."""
    sections = [
        Section(name=s.name, content=s.content, weight=s.weight, keep=s.keep) for s in sections
    ]  # no required sections: no floors
    result = build_context(sections, max_tokens=cap, tokenizer=tokenizer, strategy="strict")
    reports = list(result.sections)  # highest priority first
    for i, high in enumerate(reports):
        if high.status in ("trimmed", "dropped"):
            for low in reports[i + 1 :]:
                if low.priority < high.priority:
                    assert low.items_kept == 0, (high, low)


@common
@given(sections=section_sets(), cap=st.integers(0, 600))
def test_building_twice_gives_the_same_text(
    tokenizer: object, sections: list[Section], cap: int
) -> None:
    """The build is deterministic."""
    sections = [
        Section(name=s.name, content=s.content, weight=s.weight, keep=s.keep) for s in sections
    ]
    first = build_context(sections, max_tokens=cap, tokenizer=tokenizer)
    second = build_context(sections, max_tokens=cap, tokenizer=tokenizer)
    assert first.text == second.text
    assert first.to_dict() == second.to_dict()


@common
@given(sections=section_sets(), cap=st.integers(0, 400))
def test_trimming_is_idempotent(tokenizer: object, sections: list[Section], cap: int) -> None:
    """Rebuilding from what was kept, at the same cap, keeps all of it."""
    sections = [
        Section(name=s.name, content=s.content, weight=s.weight, keep=s.keep) for s in sections
    ]
    first = build_context(sections, max_tokens=cap, tokenizer=tokenizer, template=TEMPLATE)
    assume(not any(r.cut for r in first.sections))
    bodies = kept_bodies(first.text)
    again = [
        Section(name=s.name, content=bodies[s.name], weight=s.weight, keep=s.keep)
        for s in sections
        if s.name in bodies
    ]
    second = build_context(again, max_tokens=cap, tokenizer=tokenizer, template=TEMPLATE)
    assert second.text == first.text
