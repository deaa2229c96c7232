"""Items with metadata: MemoryItem, per-line markers, item_defaults front matter, section files
and preset ``cleanup:`` specs."""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctxbudget import (
    ConfigurationError,
    ContextBuilder,
    PresetError,
    SectionError,
    load_preset,
    load_sections,
)
from ctxbudget.agents import preset_pipelines
from ctxbudget.memory import MemoryItem, dedupe, parse_items
from ctxbudget.testing import CharTokenizer

T = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def test_an_item_is_its_text_with_metadata() -> None:
    item = MemoryItem(
        "ship it", kind="task", task_id="t1", status="completed", created_at=T, tokens=3
    )
    assert item == "ship it"
    assert hash(item) == hash("ship it")
    assert (item.kind, item.task_id, item.status, item.created_at, item.tokens) == (
        "task",
        "t1",
        "completed",
        T,
        3,
    )
    assert type(item[:4]) is str
    assert type(item + "!") is str
    assert type(item.upper()) is str
    assert item.replace("ship", "sink") == "sink it"  # str.replace, not a metadata copy
    assert item.evolve(status="active").status == "active"
    assert item.evolve(text="other").kind == "task"


def test_items_are_immutable_and_survive_pickle_and_copy() -> None:
    item = MemoryItem("x", kind="doc", loaded="full", last_accessed=T)
    with pytest.raises(AttributeError, match="evolve"):
        item.kind = "debug"  # type: ignore[misc]
    restored = pickle.loads(pickle.dumps(item))  # noqa: S301 - our own bytes
    for clone in (restored, copy.deepcopy(item)):
        assert isinstance(clone, MemoryItem)
        assert clone.metadata() == {"kind": "doc", "last_accessed": T, "loaded": "full"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"created_at": datetime(2026, 1, 1)}, "created_at must be a timezone-aware datetime"),
        ({"last_accessed": "2026-01-01"}, "last_accessed must be a timezone-aware datetime"),
        ({"tokens": -1}, "tokens must be an int >= 0"),
        ({"tokens": True}, "tokens must be an int >= 0"),
        ({"loaded": "half"}, "loaded must be 'full' or 'summary'"),
        ({"kind": "two words"}, "kind must be a non-empty name"),
        ({"source": ""}, "source must be a non-empty string"),
    ],
)
def test_bad_metadata_is_refused_naming_the_attribute(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        MemoryItem("x", **kwargs)  # type: ignore[arg-type]


def test_evolve_refuses_unknown_attributes() -> None:
    with pytest.raises(ConfigurationError, match="unknown MemoryItem attribute 'colour'"):
        MemoryItem("x").evolve(colour="red")


def test_markers_are_parsed_and_stripped() -> None:
    text = (
        "Traceback in parser.py <!-- ctx: kind=debug created=2026-12-01T10:00:00Z -->\n"
        "\n"
        "Refactor loader <!-- ctx: kind=task task=t1 status=completed "
        "accessed=2026-12-01T12:30+02:00 tokens=4 -->\n"
        "plain line\n"
    )
    items = parse_items(text, source="wm.md")
    assert items == ["Traceback in parser.py", "Refactor loader", "plain line"]
    debug, task, plain = items
    assert (debug.kind, debug.created_at, debug.source) == ("debug", T, "wm.md")
    assert (task.task_id, task.status, task.tokens) == ("t1", "completed", 4)
    assert task.last_accessed == T + timedelta(minutes=30)
    assert plain.metadata() == {"source": "wm.md"}


def test_defaults_apply_to_every_line_and_markers_win() -> None:
    items = parse_items(
        "a\nb <!-- ctx: kind=skill -->", defaults={"kind": "doc", "last_accessed": T}
    )
    assert [(i.kind, i.last_accessed) for i in items] == [("doc", T), ("skill", T)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x <!-- ctx: colour=red -->", "f.md:3: unknown item metadata key 'colour'"),
        ("x <!-- ctx: kind -->", "f.md:3: marker pair 'kind' is not key=value"),
        ("x <!-- ctx: kind=a kind=b -->", "f.md:3: marker key 'kind' given twice"),
        (
            "x <!-- ctx: accessed=2026-12-01T10:00 -->",
            "f.md:3: last_accessed: '2026-12-01T10:00:00' has no time zone",
        ),
        (
            "x <!-- ctx: created=yesterday -->",
            "f.md:3: created_at: 'yesterday' is not an ISO 8601 time",
        ),
        (
            "x <!-- ctx: tokens=many -->",
            "f.md:3: tokens: tokens must be a whole number, got 'many'",
        ),
        ("<!-- ctx: kind=doc -->", "f.md:3: a ctx marker needs text before it"),
    ],
)
def test_malformed_markers_name_file_line_and_value(line: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_items(f"ok\n\n{line}", source="f.md")
    assert str(info.value).startswith(message)


def test_bad_defaults_are_named_as_item_defaults() -> None:
    with pytest.raises(
        ConfigurationError, match=r"f\.md: item_defaults: unknown item metadata key 'when'"
    ):
        parse_items("x", source="f.md", defaults={"when": "now"})


@given(
    st.lists(
        st.text(st.sampled_from("ab =-<>!\t"), min_size=1, max_size=12).filter(str.strip),
        max_size=8,
    )
)
def test_marker_round_trip(texts: list[str]) -> None:
    """An item written with its marker parses back to the same text and metadata."""
    items = [
        MemoryItem(t.strip(), kind="doc", created_at=T, tokens=len(t))
        for t in texts
        if "<!--" not in t
    ]
    back = parse_items("\n".join(f"{i} {i.marker()}" for i in items))
    assert [(b.text, b.metadata()) for b in back] == [(i.text, i.metadata()) for i in items]


def test_section_file_with_markers_yields_items(tmp_path: Path) -> None:
    path = tmp_path / "knowledge.md"
    path.write_text(
        "---\nweight: 2\nitem_defaults: {kind: doc, accessed: 2026-12-01T10:00:00Z}\n---\n"
        "alpha\nbeta <!-- ctx: kind=skill -->\n",
        encoding="utf-8",
    )
    (section,) = load_sections([path])
    assert section.content == ["alpha", "beta"]
    assert [(i.kind, i.last_accessed, i.source) for i in section.content] == [
        ("doc", T, str(path)), ("skill", T, str(path))]  # fmt: skip
    built = ContextBuilder(tokenizer=CharTokenizer()).build(sections=[section], max_tokens=1000)
    assert "beta" in built.text
    assert "ctx:" not in built.text


def test_section_file_errors_give_the_file_line(tmp_path: Path) -> None:
    path = tmp_path / "wm.md"
    path.write_text("---\nweight: 1\n---\nfine\nbad <!-- ctx: tokens=-2 -->\n", encoding="utf-8")
    with pytest.raises(
        SectionError, match=r"wm.md:5: tokens: tokens must be a whole number, got '-2'"
    ):
        load_sections([path])
    path.write_text("---\nsplit: paragraphs\n---\nx <!-- ctx: kind=doc -->\n", encoding="utf-8")
    with pytest.raises(SectionError, match="split into lines, not 'paragraphs'"):
        load_sections([path])
    path.write_text("---\nitem_defaults: [doc]\n---\nx\n", encoding="utf-8")
    with pytest.raises(SectionError, match="'item_defaults' must be a mapping"):
        load_sections([path])


def test_files_without_metadata_stay_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("one\ntwo\n", encoding="utf-8")
    assert load_sections([path])[0].content == "one\ntwo\n"


def test_dedupe_keeps_item_metadata() -> None:
    items = [MemoryItem("Ship it", kind="doc"), MemoryItem("ship it!", kind="skill")]
    kept, _ = dedupe()(items, CharTokenizer())  # type: ignore[arg-type]
    assert [(k, getattr(k, "kind", None)) for k in kept] == [("ship it!", "skill")]


def test_preset_cleanup_specs_become_pipelines(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "sections: {notes: 1}\ncleanup:\n  working_memory: working_memory\n"
        "  knowledge_base:\n    - unload_skills\n    - unload_docs: {idle_s: 7200}\n",
        encoding="utf-8",
    )
    pipelines = preset_pipelines(load_preset(path))
    assert [s.name for s in pipelines["knowledge_base"].steps] == ["unload_skills", "unload_docs"]
    assert pipelines["knowledge_base"].steps[1].idle_s == 7200.0  # type: ignore[attr-defined]
    assert len(pipelines["working_memory"].steps) == 5  # the reference 4, shed_completed_tasks


def test_preset_cleanup_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "cleanup:\n  knowledge_base:\n    - unload_docs: {idle: 7200}\n", encoding="utf-8"
    )
    with pytest.raises(PresetError) as info:
        preset_pipelines(load_preset(path))
    assert info.value.key == "cleanup.knowledge_base[0]"
    assert "unknown option 'idle' of step 'unload_docs'" in info.value.reason
    path.write_text("cleanup:\n  knowledge_base: 5\n", encoding="utf-8")
    with pytest.raises(PresetError, match=r"cleanup\.knowledge_base"):
        load_preset(path)


def test_markers_are_found_in_linear_time_on_hostile_lines() -> None:
    """A megabyte of spaces before a marker, or a line of nothing but marker openings, parses
    at once (a regex search from every position took 8 s for 40,000 spaces, quadratic: these
    lines would take hours). The marker is the line's last comment."""
    spaces = " " * 1_000_000
    (item,) = parse_items(f"x{spaces}<!-- ctx: kind=doc -->{spaces}")
    assert (str(item), item.kind) == ("x", "doc")
    (plain,) = parse_items("<!-- ctx:" * 100_000)  # no closing comment: plain text
    assert plain.kind is None
    assert len(plain) == 900_000
    (last,) = parse_items("a <!-- note --> b <!-- ctx: kind=debug -->")
    assert (str(last), last.kind) == ("a <!-- note --> b", "debug")
