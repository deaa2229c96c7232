"""load_sections: one file, one section; front matter options; errors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctxbudget import Section, SectionError, load_sections


def write(path: Path, text: str) -> Path:
    """Write ``text`` as UTF-8 (newlines as given) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


# --- directories and plain files --------------------------------------------------------------


def test_directory_gives_one_section_per_file_in_name_order(tmp_path: Path) -> None:
    """A directory gives one section per file, in name order, named by stem, content verbatim."""
    write(tmp_path / "summaries.md", "- met Ana\n- planned trip\n")
    write(tmp_path / "facts.txt", "likes tea\n")
    write(tmp_path / "history.md", "user: hi\nassistant: hello\n")
    sections = load_sections([tmp_path])
    assert [s.name for s in sections] == ["facts", "history", "summaries"]
    assert [s.content for s in sections] == [
        "likes tea\n",
        "user: hi\nassistant: hello\n",
        "- met Ana\n- planned trip\n",
    ]
    assert all(isinstance(s, Section) for s in sections)
    assert all(s.weight is None and s.required is None and s.title is None for s in sections)


def test_hidden_files_and_subdirectories_skipped(tmp_path: Path) -> None:
    """Hidden files and subdirectories of a directory are not sections."""
    write(tmp_path / "notes.md", "n\n")
    write(tmp_path / ".DS_Store", "junk")
    write(tmp_path / ".hidden.md", "secret\n")
    write(tmp_path / "sub" / "deep.md", "deep\n")
    assert [s.name for s in load_sections([tmp_path])] == ["notes"]


def test_empty_directory_gives_no_sections(tmp_path: Path) -> None:
    """An empty directory gives no sections."""
    assert load_sections([tmp_path]) == []


def test_paths_keep_their_order(tmp_path: Path) -> None:
    """Sections follow the order of the paths given; str and Path are both accepted."""
    zeta = write(tmp_path / "zeta.md", "z\n")
    write(tmp_path / "dir" / "b.md", "b\n")
    write(tmp_path / "dir" / "a.md", "a\n")
    alpha = write(tmp_path / "alpha.md", "alpha\n")
    sections = load_sections([str(zeta), tmp_path / "dir", alpha])
    assert [s.name for s in sections] == ["zeta", "a", "b", "alpha"]


def test_name_is_the_stem(tmp_path: Path) -> None:
    """A file's section name is its stem (last suffix removed)."""
    write(tmp_path / "userFacts.md", "x\n")
    write(tmp_path / "chat.history.txt", "y\n")
    assert [s.name for s in load_sections([tmp_path])] == ["chat.history", "userFacts"]


def test_empty_file_gives_empty_section(tmp_path: Path) -> None:
    """An empty file gives a section with empty content."""
    path = write(tmp_path / "empty.md", "")
    (section,) = load_sections([path])
    assert (section.name, section.content) == ("empty", "")


def test_dashes_later_in_file_are_content(tmp_path: Path) -> None:
    """'---' lines that do not open the file are content, not front matter."""
    text = "intro\n---\nweight: 3\n---\nmore\n"
    (section,) = load_sections([write(tmp_path / "plain.md", text)])
    assert section.content == text
    assert section.weight is None


# --- front matter -----------------------------------------------------------------------------


def test_front_matter_sets_every_option(tmp_path: Path) -> None:
    """Front matter sets name, title, weight, required, min/max tokens, keep, split."""
    path = write(
        tmp_path / "facts.md",
        "---\n"
        "name: userFacts\n"
        "title: What we know\n"
        "weight: 2.5\n"
        "required: true\n"
        "min_tokens: 10\n"
        "max_tokens: 200\n"
        "keep: start\n"
        "split: paragraphs\n"
        "---\n"
        "Ana likes tea.\n\nAna lives in Lisbon.\n",
    )
    (section,) = load_sections([path])
    assert section == Section(
        name="userFacts",
        content="Ana likes tea.\n\nAna lives in Lisbon.\n",
        title="What we know",
        weight=2.5,
        required=True,
        min_tokens=10,
        max_tokens=200,
        keep="start",
        split="paragraphs",
    )


def test_front_matter_partial_options(tmp_path: Path) -> None:
    """Options not in front matter stay None; the name defaults to the stem."""
    path = write(tmp_path / "history.md", "---\nweight: 1\nsplit: bullets\n---\n- a\n  more\n")
    (section,) = load_sections([path])
    assert section.name == "history"
    assert (section.weight, section.split) == (1, "bullets")
    assert (section.required, section.keep, section.title) == (None, None, None)
    assert (section.min_tokens, section.max_tokens) == (None, None)
    assert section.content == "- a\n  more\n"


def test_empty_front_matter(tmp_path: Path) -> None:
    """Empty front matter is removed and sets nothing."""
    (section,) = load_sections([write(tmp_path / "e.md", "---\n---\nbody\n")])
    assert (section.name, section.content, section.weight) == ("e", "body\n", None)


def test_front_matter_with_comment_only(tmp_path: Path) -> None:
    """Front matter holding only a YAML comment sets nothing."""
    (section,) = load_sections([write(tmp_path / "c.md", "---\n# nothing\n---\nbody\n")])
    assert (section.name, section.content) == ("c", "body\n")


def test_front_matter_crlf_file(tmp_path: Path) -> None:
    """A file with Windows line endings has its front matter read and removed."""
    path = write(tmp_path / "win.md", "---\r\nweight: 4\r\n---\r\nline one\r\nline two\r\n")
    (section,) = load_sections([path])
    assert section.weight == 4
    assert section.content == "line one\nline two\n"


def test_front_matter_closed_at_end_of_file(tmp_path: Path) -> None:
    """Front matter whose closing '---' is the file's last line, without newline, is closed."""
    path = write(tmp_path / "only.md", "---\ntitle: Only options\n---")
    (section,) = load_sections([path])
    assert (section.title, section.content) == ("Only options", "")


def test_unknown_front_matter_key(tmp_path: Path) -> None:
    """An unknown front matter key raises SectionError naming the file and the key."""
    path = write(tmp_path / "facts.md", "---\nweight: 1\ncolour: blue\n---\nbody\n")
    with pytest.raises(SectionError) as info:
        load_sections([path])
    message = str(info.value)
    assert str(path) in message
    assert "'colour'" in message
    assert "known keys" in message
    assert info.value.section == "facts"


def test_non_string_unknown_front_matter_keys(tmp_path: Path) -> None:
    """Unknown keys of mixed types (1, foo) raise SectionError, not TypeError."""
    path = write(tmp_path / "mixed.md", "---\n1: a\nfoo: b\n---\nbody\n")
    with pytest.raises(SectionError) as info:
        load_sections([path])
    assert str(path) in str(info.value)


def test_unclosed_front_matter(tmp_path: Path) -> None:
    """Front matter never closed raises SectionError naming the file."""
    path = write(tmp_path / "open.md", "---\nweight: 1\nbody without closing\n")
    with pytest.raises(SectionError) as info:
        load_sections([path])
    assert str(path) in str(info.value)
    assert "never closed" in str(info.value)


def test_invalid_yaml_front_matter(tmp_path: Path) -> None:
    """Front matter that is not YAML raises SectionError naming the file and its line."""
    path = write(tmp_path / "bad.md", "---\ntitle: ok\nfoo: bar: baz\n---\nbody\n")
    with pytest.raises(SectionError) as info:
        load_sections([path])
    message = str(info.value)
    assert f"{path}:3" in message
    assert "not valid YAML" in message


@pytest.mark.parametrize("front", ["- a\n- b\n", "just a sentence\n", "42\n"])
def test_non_mapping_front_matter(tmp_path: Path, front: str) -> None:
    """Front matter that is a list or scalar raises SectionError naming the file."""
    path = write(tmp_path / "list.md", f"---\n{front}---\nbody\n")
    with pytest.raises(SectionError) as info:
        load_sections([path])
    assert str(path) in str(info.value)
    assert "mapping" in str(info.value)


@pytest.mark.parametrize(
    ("front", "words"),
    [
        ("weight: -1", "weight"),
        ("weight: .inf", "weight"),
        ("keep: middle", "keep"),
        ("split: words", "split"),
        ("required: maybe", "required"),
        ("min_tokens: -5", "min_tokens"),
        ("max_tokens: 1.5", "max_tokens"),
        ("min_tokens: 50\nmax_tokens: 10", "min_tokens"),
        ("title: [a, b]", "title"),
    ],
)
def test_invalid_option_value(tmp_path: Path, front: str, words: str) -> None:
    """An invalid option value raises SectionError naming the file and the option."""
    path = write(tmp_path / "opts.md", f"---\n{front}\n---\nbody\n")
    with pytest.raises(SectionError) as info:
        load_sections([path])
    assert str(path) in str(info.value)
    assert words in str(info.value)


@pytest.mark.parametrize("front", ["name: 123", "name: ''", "name: null", "name: [a]"])
def test_invalid_name(tmp_path: Path, front: str) -> None:
    """A front matter name that is not a non-empty string raises SectionError."""
    path = write(tmp_path / "named.md", f"---\n{front}\n---\nbody\n")
    with pytest.raises(SectionError) as info:
        load_sections([path])
    assert str(path) in str(info.value)
    assert "name" in str(info.value)


@pytest.mark.parametrize(
    ("front", "says"),
    [
        ('name: "   "', "must hold more than blanks, got '   '"),
        ('name: "a\\nb"', "must be one line without control characters, got 'a\\nb'"),
        ('name: "x\\e[2J"', "must be one line without control characters, got 'x\\x1b[2J'"),
    ],
)
def test_a_name_of_blanks_or_with_a_control_character_is_refused(
    tmp_path: Path, front: str, says: str
) -> None:
    """A name that would make a blank header, or put a line of its own (or a terminal escape)
    into the prompt's header, is a SectionError naming the file and the value."""
    path = write(tmp_path / "named.md", f"---\n{front}\n---\nbody\n")
    with pytest.raises(SectionError) as info:
        load_sections([path])
    assert str(path) in str(info.value)
    assert says in str(info.value)


def test_a_file_stem_with_a_control_character_is_refused(tmp_path: Path) -> None:
    """A file whose name holds a newline is refused with its name, not made into a header
    that spans two lines."""
    path = write(tmp_path / "two\nlines.md", "body\n")
    with pytest.raises(SectionError, match="without control characters"):
        load_sections([path])


@pytest.mark.parametrize("name", ["a\nb", "tab\there", "\x1b[2Jx", "  ", "\u0085next"])
def test_section_names_are_one_line_of_something(name: str) -> None:
    """Section() and the dict form of build_context refuse blank names and names with
    control characters (C0, DEL, C1) the same way."""
    with pytest.raises(SectionError, match="name: must"):
        Section(name=name, content="x")
    from ctxbudget import build_context

    with pytest.raises(SectionError, match="name: must"):
        build_context({name: "x"}, max_tokens=50)


def test_names_with_spaces_and_unicode_are_fine() -> None:
    """Only blanks and control characters are refused: spaces inside a name, accents and
    symbols stay allowed."""
    for name in ("user facts", "Notas de reunião", "日本語", "[draft] notes", "a-b.c_d"):
        assert Section(name=name, content="x").name == name


# --- read errors and duplicates ---------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    """A path that does not exist raises SectionError naming it."""
    missing = tmp_path / "nope" / "facts.md"
    with pytest.raises(SectionError) as info:
        load_sections([missing])
    assert str(missing) in str(info.value)
    assert "no such file or directory" in str(info.value)


def test_missing_path_after_valid_one(tmp_path: Path) -> None:
    """A missing path among valid ones still raises SectionError."""
    good = write(tmp_path / "good.md", "ok\n")
    with pytest.raises(SectionError):
        load_sections([good, tmp_path / "gone.md"])


def test_non_utf8_file(tmp_path: Path) -> None:
    """A file that is not UTF-8 raises SectionError naming the file."""
    path = tmp_path / "latin.md"
    path.write_bytes("caf\u00e9\n".encode("latin-1"))
    with pytest.raises(SectionError) as info:
        load_sections([path])
    assert str(path) in str(info.value)
    assert "UTF-8" in str(info.value)
    assert info.value.section == "latin"


def test_duplicate_names_name_both_files(tmp_path: Path) -> None:
    """Two files giving the same section name raise SectionError naming both files."""
    first = write(tmp_path / "a" / "facts.md", "one\n")
    second = write(tmp_path / "b" / "facts.txt", "two\n")
    with pytest.raises(SectionError) as info:
        load_sections([tmp_path / "a", tmp_path / "b"])
    message = str(info.value)
    assert str(first) in message
    assert str(second) in message
    assert info.value.section == "facts"


def test_duplicate_name_from_front_matter(tmp_path: Path) -> None:
    """A front matter name equal to another file's stem is a duplicate naming both files."""
    first = write(tmp_path / "history.md", "h\n")
    second = write(tmp_path / "notes.md", "---\nname: history\n---\nn\n")
    with pytest.raises(SectionError) as info:
        load_sections([tmp_path])
    assert str(first) in str(info.value)
    assert str(second) in str(info.value)


def test_front_matter_rename_avoids_clash(tmp_path: Path) -> None:
    """Same stems in two directories are fine when front matter renames one."""
    write(tmp_path / "a" / "facts.md", "one\n")
    write(tmp_path / "b" / "facts.md", "---\nname: moreFacts\n---\ntwo\n")
    sections = load_sections([tmp_path / "a", tmp_path / "b"])
    assert [(s.name, s.content) for s in sections] == [("facts", "one\n"), ("moreFacts", "two\n")]
