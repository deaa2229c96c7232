"""Presets: the bundled reference presets, user preset files, ``extends``, and invalid input."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctxbudget import Preset, PresetError, list_presets, load_preset

BUNDLED = [
    "agent-session",
    "audit-focused",
    "crm",
    "default",
    "knowledge-heavy",
    "long-conversations",
]

DEFAULT_WEIGHTS = {
    "summaries": 0.25,
    "userProfile": 0.15,
    "userFacts": 0.15,
    "entities": 0.15,
    "graph": 0.10,
    "decisions": 0.10,
    "learnings": 0.05,
    "procedures": 0.05,
}

REFERENCE_WEIGHTS = {
    "default": DEFAULT_WEIGHTS,
    "knowledge-heavy": {**DEFAULT_WEIGHTS, "learnings": 0.30, "summaries": 0.10},
    "audit-focused": {**DEFAULT_WEIGHTS, "decisions": 0.30, "learnings": 0.05},
    "crm": {**DEFAULT_WEIGHTS, "userFacts": 0.25, "entities": 0.25, "procedures": 0.02},
    "long-conversations": {**DEFAULT_WEIGHTS, "summaries": 0.40, "graph": 0.05},
    "agent-session": {
        "system_context": 0.10,
        "working_memory": 0.30,
        "knowledge_base": 0.20,
        "agent_context": 0.15,
        "interaction_buffer": 0.25,
    },
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> PresetError:
    with pytest.raises(PresetError) as info:
        load_preset(path)
    assert str(path) in str(info.value)
    return info.value


# --- bundled presets ---------------------------------------------------------------------------


def test_list_presets_names_exactly_the_six_bundled_presets() -> None:
    """list_presets() returns the six bundled preset names, sorted."""
    assert list_presets() == BUNDLED


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_preset_has_reference_weights(name: str) -> None:
    """Each bundled preset loads by name with exactly its reference weights, in any order."""
    preset = load_preset(name)
    assert isinstance(preset, Preset)
    assert preset.name == name
    expected = REFERENCE_WEIGHTS[name]
    weights = preset.weights()
    assert set(weights) == set(expected)
    for section, weight in expected.items():
        assert weights[section] == pytest.approx(weight), section


def test_agent_session_preset_caps_at_200000_tokens() -> None:
    """The agent-session preset carries a 200,000-token cap; the memory presets carry none."""
    assert load_preset("agent-session").max_tokens == 200000
    for name in ("default", "knowledge-heavy", "audit-focused", "crm", "long-conversations"):
        assert load_preset(name).max_tokens is None, name


def test_extending_presets_inherit_section_options_from_default() -> None:
    """Bundled presets that extend default keep its non-weight options (entities split bullets)."""
    for name in ("default", "knowledge-heavy", "audit-focused", "crm", "long-conversations"):
        preset = load_preset(name)
        assert preset.sections["entities"].split == "bullets", name
        assert preset.sections["procedures"].split == "paragraphs", name


def test_reference_memory_weights_sum_to_one() -> None:
    """The default and agent-session reference weights sum to 1.0."""
    assert sum(load_preset("default").weights().values()) == pytest.approx(1.0)
    assert sum(load_preset("agent-session").weights().values()) == pytest.approx(1.0)


def test_unnamed_section_gets_default_weight() -> None:
    """A section the preset does not name gets the preset's default weight (0.05)."""
    assert load_preset("default").spec("scratchpad").weight == pytest.approx(0.05)


# --- user preset files and extends --------------------------------------------------------------


def test_user_preset_extends_bundled_preset_by_name(tmp_path: Path) -> None:
    """A file that extends 'default' overrides a weight, the cap and one field of a section."""
    path = _write(
        tmp_path / "mine.yaml",
        "extends: default\n"
        "max_tokens: 1234\n"
        "sections:\n"
        "  graph: 0.40\n"
        "  entities:\n"
        "    title: People and things\n"
        "  scratch: 0.2\n",
    )
    preset = load_preset(path)
    assert preset.name == "mine"
    assert preset.max_tokens == 1234
    assert preset.source == str(path)
    assert preset.description == "Reference agent-memory sections, summaries first."
    weights = preset.weights()
    assert weights["graph"] == pytest.approx(0.40)
    assert weights["scratch"] == pytest.approx(0.2)
    assert weights["summaries"] == pytest.approx(0.25)
    entities = preset.sections["entities"]
    assert entities.title == "People and things"
    assert entities.split == "bullets"
    assert entities.weight == pytest.approx(0.15)
    assert list(preset.sections)[:8] == list(DEFAULT_WEIGHTS)


def test_user_preset_extends_another_file_by_relative_path(tmp_path: Path) -> None:
    """'extends' with a relative path resolves next to the extending file, and chains merge."""
    (tmp_path / "base").mkdir()
    (tmp_path / "team").mkdir()
    _write(
        tmp_path / "base" / "base.yaml",
        "name: base\n"
        "description: Base preset.\n"
        "max_tokens: 900\n"
        "default_weight: 0.01\n"
        "sections:\n"
        "  notes:\n"
        "    weight: 0.5\n"
        "    keep: start\n"
        "    split: paragraphs\n"
        "    title: Notes\n"
        "  facts: 0.3\n",
    )
    child = _write(
        tmp_path / "team" / "child.yaml",
        "extends: ../base/base.yaml\n"
        "max_tokens: 450\n"
        "sections:\n"
        "  notes:\n"
        "    keep: end\n"
        "  facts: 0.6\n",
    )
    preset = load_preset(child)
    assert preset.name == "child"
    assert preset.description == "Base preset."
    assert preset.max_tokens == 450
    assert preset.default_weight == pytest.approx(0.01)
    notes = preset.sections["notes"]
    assert notes.keep == "end"
    assert notes.split == "paragraphs"
    assert notes.title == "Notes"
    assert notes.weight == pytest.approx(0.5)
    assert preset.weights() == {"notes": pytest.approx(0.5), "facts": pytest.approx(0.6)}


def test_relative_extends_chain_of_three_files(tmp_path: Path) -> None:
    """A chain a -> b -> default merges from the base up; the nearest file wins."""
    _write(tmp_path / "b.yaml", "extends: default\nsections:\n  summaries: 0.5\n  graph: 0.3\n")
    a = _write(tmp_path / "a.yaml", "extends: b.yaml\nsections:\n  graph: 0.2\n")
    weights = load_preset(a).weights()
    assert weights["summaries"] == pytest.approx(0.5)
    assert weights["graph"] == pytest.approx(0.2)
    assert weights["decisions"] == pytest.approx(0.10)


def test_preset_name_defaults_to_file_stem_and_int_weights_are_floats(tmp_path: Path) -> None:
    """Without 'name' the preset is named by its file stem; integer weights become floats."""
    preset = load_preset(_write(tmp_path / "plain.yaml", "sections:\n  a: 1\n  b: 0\n"))
    assert preset.name == "plain"
    assert preset.weights() == {"a": 1.0, "b": 0.0}
    assert isinstance(preset.weights()["a"], float)


# --- invalid input ------------------------------------------------------------------------------


def test_unknown_top_level_key(tmp_path: Path) -> None:
    """An unknown top-level key raises PresetError naming the key and its line."""
    path = _write(tmp_path / "p.yaml", "name: x\nweights:\n  a: 0.5\n")
    exc = _error(path)
    assert (exc.source, exc.key, exc.line) == (str(path), "weights", 2)
    assert "unknown key" in str(exc)


def test_unknown_key_inside_a_section(tmp_path: Path) -> None:
    """An unknown key in a section mapping raises with its dotted key and line."""
    path = _write(tmp_path / "p.yaml", "sections:\n  a:\n    weight: 0.5\n    colour: red\n")
    exc = _error(path)
    assert (exc.source, exc.key, exc.line) == (str(path), "sections.a.colour", 4)
    assert "unknown key" in str(exc)


@pytest.mark.parametrize(
    ("text", "key", "line", "shown"),
    [
        ("sections:\n  a: 0.5\n  b: -0.1\n", "sections.b.weight", 3, "-0.1"),
        ("sections:\n  a: 0.5\n  b:\n    weight: -1\n", "sections.b.weight", 4, "-1"),
        ("sections:\n  a: 0.5\n  b: .nan\n", "sections.b.weight", 3, "nan"),
        ("sections:\n  a: 0.5\n  b:\n    weight: .nan\n", "sections.b.weight", 4, "nan"),
        ("sections:\n  a: 0.5\n  b: .inf\n", "sections.b.weight", 3, "inf"),
        ("sections:\n  a: 0.5\n  b: -.inf\n", "sections.b.weight", 3, "inf"),
        ("default_weight: .nan\nsections:\n  a: 0.5\n", "default_weight", 1, "nan"),
        ("default_weight: -0.5\nsections:\n  a: 0.5\n", "default_weight", 1, "-0.5"),
    ],
    ids=[
        "negative-bare",
        "negative-mapping",
        "nan-bare",
        "nan-mapping",
        "inf",
        "minus-inf",
        "nan-default",
        "negative-default",
    ],
)
def test_invalid_weight_values(tmp_path: Path, text: str, key: str, line: int, shown: str) -> None:
    """Negative, NaN and infinite weights raise PresetError with the key, line and the value."""
    path = _write(tmp_path / "p.yaml", text)
    exc = _error(path)
    assert (exc.source, exc.key, exc.line) == (str(path), key, line)
    assert shown in str(exc)


def test_all_zero_weights(tmp_path: Path) -> None:
    """A preset whose weights are all zero raises, pointing at the 'sections' key."""
    path = _write(tmp_path / "p.yaml", "name: z\nsections:\n  a: 0\n  b: 0.0\n")
    exc = _error(path)
    assert (exc.source, exc.key, exc.line) == (str(path), "sections", 2)
    assert "all weights are zero" in str(exc)


def test_all_zero_weights_after_extends(tmp_path: Path) -> None:
    """Zeroing every inherited weight in an extending file is also rejected."""
    zeros = "".join(f"  {name}: 0\n" for name in DEFAULT_WEIGHTS)
    path = _write(tmp_path / "p.yaml", "extends: default\nsections:\n" + zeros)
    exc = _error(path)
    assert (exc.source, exc.key, exc.line) == (str(path), "sections", 2)


def test_string_weight_in_section_mapping(tmp_path: Path) -> None:
    """A string weight in a section mapping raises naming the weight key, line and value."""
    path = _write(tmp_path / "p.yaml", "sections:\n  a: 0.5\n  b:\n    weight: high\n")
    exc = _error(path)
    assert (exc.source, exc.key, exc.line) == (str(path), "sections.b.weight", 4)
    assert "'high'" in str(exc)


def test_bare_string_weight(tmp_path: Path) -> None:
    """A bare string in place of a weight raises naming the section key, line and value."""
    path = _write(tmp_path / "p.yaml", "sections:\n  a: 0.5\n  b: high\n")
    exc = _error(path)
    assert (exc.source, exc.key, exc.line) == (str(path), "sections.b", 3)
    assert "'high'" in str(exc)


def test_quoted_number_weight_is_not_coerced(tmp_path: Path) -> None:
    """A quoted number ('0.5') is a string, not a weight: validation is strict."""
    path = _write(tmp_path / "p.yaml", "sections:\n  a:\n    weight: '0.5'\n")
    exc = _error(path)
    assert (exc.key, exc.line) == ("sections.a.weight", 3)


def test_extends_cycle_between_two_files(tmp_path: Path) -> None:
    """a extends b and b extends a: PresetError on 'extends' naming both files."""
    a = _write(tmp_path / "a.yaml", "extends: b.yaml\nsections:\n  x: 0.5\n")
    b = _write(tmp_path / "b.yaml", "extends: a.yaml\nsections:\n  y: 0.5\n")
    exc = _error(a)
    assert exc.key == "extends"
    assert Path(exc.source).resolve() in {a.resolve(), b.resolve()}
    assert "cycle" in str(exc)
    assert "a.yaml" in str(exc)
    assert "b.yaml" in str(exc)


def test_extends_cycle_file_extending_itself(tmp_path: Path) -> None:
    """A file that extends itself raises a cycle PresetError on 'extends'."""
    path = _write(tmp_path / "self.yaml", "extends: self.yaml\nsections:\n  x: 0.5\n")
    exc = _error(path)
    assert exc.key == "extends"
    assert Path(exc.source).resolve() == path.resolve()
    assert "cycle" in str(exc)


def test_malformed_yaml_reports_line(tmp_path: Path) -> None:
    """An unclosed bracket raises 'not valid YAML' with the line where the parser stopped."""
    # The flow sequence opened on line 3 is still open when line 4's ':' is read.
    path = _write(tmp_path / "p.yaml", "name: x\nsections:\n  a: [0.5\n  b: 0.1\n")
    exc = _error(path)
    assert exc.source == str(path)
    assert exc.line == 4
    assert f"{path}:4" in str(exc)
    assert "not valid YAML" in str(exc)


def test_duplicate_key(tmp_path: Path) -> None:
    """A key given twice raises (YAML would keep only the last) at the second occurrence."""
    path = _write(tmp_path / "p.yaml", "sections:\n  a: 0.5\n  b: 0.1\n  a: 0.2\n")
    exc = _error(path)
    assert (exc.source, exc.key, exc.line) == (str(path), "sections.a", 4)
    assert "duplicate key" in str(exc)


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    """A duplicated top-level key raises too."""
    path = _write(tmp_path / "p.yaml", "max_tokens: 10\nsections:\n  a: 0.5\nmax_tokens: 20\n")
    exc = _error(path)
    assert (exc.key, exc.line) == ("max_tokens", 4)


def test_top_level_list(tmp_path: Path) -> None:
    """A YAML list at top level is not a preset."""
    path = _write(tmp_path / "p.yaml", "- summaries\n- entities\n")
    exc = _error(path)
    assert exc.source == str(path)
    assert exc.line == 1
    assert "mapping" in str(exc)
    assert "list" in str(exc)


def test_missing_file(tmp_path: Path) -> None:
    """A missing preset file raises PresetError naming the path."""
    path = tmp_path / "nope.yaml"
    exc = _error(path)
    assert exc.source == str(path)
    assert exc.line is None
    assert "not found" in str(exc)


def test_missing_file_given_as_string_path(tmp_path: Path) -> None:
    """A string that looks like a path is loaded as a file, not looked up as a bundled name."""
    path = tmp_path / "nope.yml"
    with pytest.raises(PresetError) as info:
        load_preset(str(path))
    assert info.value.source == str(path)
    assert "not found" in str(info.value)


def test_unknown_bundled_name_lists_bundled_names() -> None:
    """An unknown bundled name raises and the message lists every bundled preset."""
    with pytest.raises(PresetError) as info:
        load_preset("nosuch")
    assert info.value.source == "nosuch"
    assert "unknown preset 'nosuch'" in str(info.value)
    for name in BUNDLED:
        assert name in str(info.value)


def test_extends_unknown_bundled_name(tmp_path: Path) -> None:
    """'extends' naming an unknown bundled preset raises on the extending file's 'extends'."""
    path = _write(tmp_path / "p.yaml", "extends: nosuch\nsections:\n  a: 0.5\n")
    exc = _error(path)
    assert (exc.source, exc.key) == (str(path), "extends")
    assert "default" in str(exc)


def test_extends_missing_file(tmp_path: Path) -> None:
    """'extends' naming a missing file raises naming the missing file."""
    path = _write(tmp_path / "p.yaml", "extends: gone.yaml\nsections:\n  a: 0.5\n")
    with pytest.raises(PresetError) as info:
        load_preset(path)
    assert info.value.source == str(tmp_path / "gone.yaml")
    assert "not found" in str(info.value)


@pytest.mark.parametrize("cap", ["0", "-5"])
def test_max_tokens_must_be_positive(tmp_path: Path, cap: str) -> None:
    """A max_tokens of 0 or below raises naming max_tokens and its line."""
    path = _write(tmp_path / "p.yaml", f"sections:\n  a: 0.5\nmax_tokens: {cap}\n")
    exc = _error(path)
    assert (exc.source, exc.key, exc.line) == (str(path), "max_tokens", 3)
    assert cap in str(exc)


def test_section_min_tokens_above_max_tokens(tmp_path: Path) -> None:
    """A section whose min_tokens exceeds its max_tokens raises naming the section and line."""
    path = _write(
        tmp_path / "p.yaml",
        "sections:\n  a: 0.5\n  b:\n    weight: 0.5\n    min_tokens: 100\n    max_tokens: 10\n",
    )
    exc = _error(path)
    assert (exc.source, exc.key, exc.line) == (str(path), "sections.b", 3)
    assert "min_tokens (100) > max_tokens (10)" in str(exc)


def test_section_min_tokens_above_inherited_max_tokens(tmp_path: Path) -> None:
    """min_tokens > max_tokens arising from an extends merge raises PresetError too."""
    _write(tmp_path / "base.yaml", "sections:\n  a:\n    weight: 0.5\n    min_tokens: 100\n")
    child = _write(
        tmp_path / "child.yaml", "extends: base.yaml\nsections:\n  a:\n    max_tokens: 10\n"
    )
    with pytest.raises(PresetError) as info:
        load_preset(child)
    assert "min_tokens (100) > max_tokens (10)" in str(info.value)
    assert info.value.source == str(child)


def test_invalid_keep_value(tmp_path: Path) -> None:
    """A section option outside its allowed values raises naming that option."""
    path = _write(tmp_path / "p.yaml", "sections:\n  a:\n    weight: 0.5\n    keep: middle\n")
    exc = _error(path)
    assert (exc.key, exc.line) == ("sections.a.keep", 4)


# --- safe loading -------------------------------------------------------------------------------


def test_python_object_tag_is_rejected_and_not_run(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A !!python/object/apply tag raises PresetError and executes nothing."""
    path = _write(
        tmp_path / "p.yaml",
        'name: x\nsections:\n  a: !!python/object/apply:os.system ["echo hi"]\n',
    )
    exc = _error(path)
    assert exc.source == str(path)
    assert exc.line == 3
    out, err = capfd.readouterr()
    assert "hi" not in out
    assert "hi" not in err


def test_python_object_tag_side_effect_does_not_happen(tmp_path: Path) -> None:
    """A tag that would create a file if constructed leaves no file behind."""
    marker = tmp_path / "pwned"
    path = _write(
        tmp_path / "p.yaml",
        f'description: !!python/object/apply:os.system ["touch {marker}"]\n',
    )
    _error(path)
    assert not marker.exists()


def test_alias_bomb_is_refused_quickly_with_file_and_line(tmp_path: Path) -> None:
    """600 bytes of nested anchors (a billion-laughs preset) fail at once, naming file:line."""
    lines = ["a: &a {x: 1, y: 1, z: 1}"]
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        refs = ", ".join(f"{k}: *{prev}" for k in "abcdefghi")
        lines.append(f"{name}: &{name} {{{refs}}}")
    lines.append("sections: {x: *h}")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size < 700
    with pytest.raises(PresetError, match=r"bomb\.yaml:\d+: YAML aliases expand") as info:
        load_preset(path)
    assert info.value.line is not None


def test_small_aliases_still_work(tmp_path: Path) -> None:
    """Anchors reused a few times are ordinary YAML and load as before."""
    path = tmp_path / "p.yaml"
    path.write_text("base: &w 0.3\nsections:\n  a: *w\n  b: *w\n")
    with pytest.raises(PresetError, match="base: unknown key"):
        load_preset(path)  # the anchor's own key is not a preset key...
    path.write_text("sections:\n  a: &w 0.3\n  b: *w\n")
    assert load_preset(path).weights() == {"a": 0.3, "b": 0.3}


@pytest.mark.parametrize(("text", "weight"), [("1e-3", 0.001), ("2E+1", 20.0), ("-0.0", 0.0)])
def test_yaml_12_floats_load_as_numbers(tmp_path: Path, text: str, weight: float) -> None:
    """Floats without a dot (YAML 1.2: 1e-3) are numbers, not strings that fail validation."""
    path = tmp_path / "p.yaml"
    path.write_text(f"sections:\n  a: {text}\n  b: 1\n")
    assert load_preset(path).spec("a").weight == weight


def test_unknown_reducer_in_a_preset_fails_at_load_with_the_line(tmp_path: Path) -> None:
    """A preset's reducer name is checked when the preset loads, not when a section uses it."""
    path = tmp_path / "p.yaml"
    path.write_text("sections:\n  facts:\n    weight: 0.5\n    reducers: [shrink]\n")
    with pytest.raises(PresetError, match=r"p\.yaml:4: sections\.facts\.reducers: unknown reducer"):
        load_preset(path)


def test_front_matter_alias_bomb_is_refused(tmp_path: Path) -> None:
    """Front matter goes through the same bounded YAML reader as presets."""
    from ctxbudget import SectionError, load_sections

    lines = ["---", "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for prev, name in zip("abcdef", "bcdefg", strict=True):
        lines.append(f"{name}: &{name} [{', '.join(f'*{prev}' for _ in range(10))}]")
    lines += ["---", "body"]
    path = tmp_path / "facts.md"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SectionError, match=r"facts\.md:\d+: front matter: YAML aliases expand"):
        load_sections([path])
