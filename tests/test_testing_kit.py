"""The snapshot-testing kit: render_snapshot's stable text, the syrupy extensions, and the
pytest plugin, run by pytest on a small user project (pytester)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from syrupy.assertion import SnapshotAssertion

from ctxbudget import BuiltContext, Compaction, Compactor, Section, build_context
from ctxbudget.testing import (
    CharTokenizer,
    CompactorRequest,
    WordTokenizer,
    compactor_step,
    render_snapshot,
)
from ctxbudget.testing.syrupy import ContextSnapshotExtension

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]

SECTIONS = [
    Section(
        name="facts",
        content=["Maya lives in Lisbon.", "She takes her tea without sugar."],
        weight=3,
        required=True,
    ),
    Section(
        name="history",
        content=[f"turn {i}: we talked about the garden and the weather" for i in range(12)],
        weight=2,
    ),
    Section(name="notes", content="A long note that only fits when there is room to spare " * 4),
]


def _build() -> BuiltContext:
    return build_context(SECTIONS, max_tokens=90, tokenizer=WordTokenizer())


def _conversation(compactor: Compactor, turns: int) -> CompactorRequest:
    request = None
    for i in range(turns):
        request = compactor_step(
            compactor,
            {"role": "user", "content": f"question {i} " * 5},
            {"role": "assistant", "content": f"answer {i} " * 6},
        )
    assert request is not None
    return request


# -- render_snapshot --------------------------------------------------------------------------


def _runs_as_before(text: str) -> list[str]:
    """WordTokenizer's pieces as first defined: grow the last run while the next character is
    as much a space (``str.isspace``) as its last one."""
    pieces: list[str] = []
    for ch in text:
        if pieces and pieces[-1][-1].isspace() == ch.isspace():
            pieces[-1] += ch
        else:
            pieces.append(ch)
    return pieces


def test_word_runs_split_on_exactly_the_code_points_str_isspace_calls_space() -> None:
    """The regex's ``\\s`` is ``str.isspace`` on every code point, so no run is cut where it
    was not before."""
    split = WordTokenizer._split
    differ = [
        c for c in range(sys.maxunicode + 1) if (len(split(f"x{chr(c)}")) == 2) != chr(c).isspace()
    ]
    assert differ == []


_SPACES = "".join(chr(c) for c in (9, 10, 11, 12, 13, 28, 31, 32, 133, 160, 5760, 8232, 12288))


@given(st.text(alphabet=st.characters() | st.sampled_from(_SPACES)))
def test_word_pieces_and_ids_are_as_first_defined(text: str) -> None:
    """Same pieces, so the same counts and ids, as the first (quadratic) definition."""
    tokenizer = WordTokenizer()
    assert WordTokenizer._split(text) == _runs_as_before(text)
    ids = tokenizer.encode(text)
    assert tokenizer.count(text) == len(ids) == len(_runs_as_before(text))
    assert tokenizer.decode(ids) == text


def test_a_long_run_without_spaces_is_one_piece() -> None:
    """2M characters with no space (old code: minutes, growing the run one character at a
    time) are one word."""
    assert WordTokenizer().count("x" * 2_000_000 + " \u3000y") == 3


def test_a_build_renders_as_header_table_and_text() -> None:
    """The header gives cap, total and tokenizer; the table one row per section in the
    build's order, with lower bounds marked; the text follows verbatim between markers."""
    result = _build()
    text = render_snapshot(result)
    lines = text.split("\n")
    assert lines[:3] == [
        "ctxbudget BuiltContext",
        f"cap: 90 tokens  total: {result.tokens} tokens  tokenizer: test-word",
        "sections: 1 full, 2 trimmed",
    ]
    assert lines[4].split() == [
        "section", "status", "weight", "required", "demanded", "allocated", "used", "kept",
        "trimmed", "cut", "reduced",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in lines[5:8]}
    history = result.section("history")
    assert rows["facts"][:4] == ["facts", "full", "3", "yes"]
    assert rows["history"] == [
        "history", "trimmed", "2", "-",
        str(history.tokens_demanded) if history.demand_exact else f">={history.tokens_demanded}",
        str(history.tokens_allocated), str(history.tokens_used), str(history.items_kept),
        str(history.items_trimmed), "-", "-",
    ]  # fmt: skip
    assert rows["notes"][1] == "trimmed"
    assert rows["notes"][-2:] == ["yes", "-"]  # its one item was cut
    assert [line.split()[0] for line in lines[5:8]] == [r.name for r in result.sections]
    start = lines.index("----- text -----")
    assert "\n".join(lines[start + 1 : lines.index("----- end of text -----")]) == result.text
    assert text.endswith("----- end of text -----\n")
    assert all(line == line.rstrip() for line in lines[: start - 1])


def test_line_endings_weights_and_local_paths_are_normalised() -> None:
    """CRLF and CR become LF, a weight prints without float noise, and a tokenizer named by a
    local path shows only the file's name."""
    result = build_context(
        [Section(name="a", content="one\r\ntwo\rthree", weight=0.1 + 0.2)],
        tokenizer=CharTokenizer(),
    )
    moved = BuiltContext(
        text=result.text,
        tokens=result.tokens,
        max_tokens=None,
        tokenizer="hf:/home/someone/models/tokenizer.json",
        approximate=True,
        sections=result.sections,
    )
    text = render_snapshot(moved)
    assert "\r" not in text
    assert "one\ntwo\nthree\n----- end of text -----" in text
    assert "cap: none" in text
    assert "tokenizer: hf:tokenizer.json (approximate)" in text
    assert "/home" not in text
    row = text.split("\n")[5].split()
    assert row[:3] == ["a", "full", "0.3"]


class _BrokenStore:
    name = "inbox"

    def fetch(self) -> str:
        raise OSError("/home/someone/inbox.json: gone")


def test_dropped_and_failed_sections_show_their_status_and_only_the_error_type() -> None:
    """A dropped section keeps its row; a failed one adds its error's type, not its message
    (which names a local path here)."""
    result = build_context(
        [
            Section(name="facts", content="a b c", required=True),
            Section(name="big", content=["word " * 30, "x y"], weight=0.5),
            _BrokenStore(),
        ],
        max_tokens=12,
        tokenizer=WordTokenizer(),
    )
    text = render_snapshot(result)
    assert "sections: 1 full, 1 dropped, 1 failed\n" in text
    assert re.search(r"^big +dropped +0\.5 +- ", text, re.M)
    assert re.search(r"^inbox +failed +1 +- +- +0 ", text, re.M), text  # demanded: -, not >=0
    assert "\nfailed: inbox: OSError\n" in text
    assert "/home" not in text
    assert "gone" not in text


def test_a_compactor_request_renders_messages_and_compaction_steps() -> None:
    """compactor_step returns the request with the receipts of the compactions it ran; the
    user's on_compaction still sees them and is back in place afterwards."""
    seen: list[Compaction] = []
    compactor = Compactor(
        1500, tokenizer=CharTokenizer(), keep_last_turns=1, on_compaction=seen.append
    )
    requests = [
        compactor_step(
            compactor,
            {"role": "user", "content": f"question {i} " * 5},
            {"role": "assistant", "content": f"answer {i} " * 6},
        )
        for i in range(12)
    ]
    compacted = [r for r in requests if r.compactions]
    assert compacted
    assert [c for r in requests for c in r.compactions] == seen
    assert compactor.on_compaction == seen.append
    request = compacted[0]
    assert request.total == 3 + sum(request.tokens) <= 1500
    text = render_snapshot(request)
    lines = text.split("\n")
    assert lines[0] == "ctxbudget Compactor request"
    fill = f"{100 * request.total / 1500:.1f}%"
    assert lines[1] == f"window: 1500 tokens  total: {request.total} tokens ({fill})  " + (
        "tokenizer: test-char"
    )
    assert lines[2] == "messages: 3 (1 assistant, 1 system, 1 user)"
    assert [line.split() for line in lines[5:8]] == [
        [str(i), m["role"], str(t)]
        for i, (m, t) in enumerate(zip(request.messages, request.tokens, strict=True), start=1)
    ]
    receipt = request.compactions[0]
    assert "compactions: 1" in lines
    assert (
        f"1. {receipt.trigger}: {receipt.tokens_before} -> {receipt.tokens_after} tokens "
        f"(freed {receipt.freed}), {receipt.messages} messages archived"
    ) in text
    assert re.search(
        rf"^   summarize +{receipt.tokens_before} +{receipt.tokens_after} ", text, re.M
    )
    assert "----- message 1: system -----\nSummary of the earlier conversation:" in text
    assert receipt.block_id not in text  # content ids are stable, but noise in a diff


class _BrokenSummarizer:
    def summarize(self, items: object, max_tokens: int) -> str:
        raise OSError("/home/someone/model.bin: gone")


def test_a_failed_summarizer_shows_its_error_type_in_the_receipt_not_its_message() -> None:
    """A compaction receipt's note held the summarizer's exception message verbatim (a local
    path here); like a failed section, it now shows only the error's type."""
    compactor = Compactor(
        1500, tokenizer=CharTokenizer(), keep_last_turns=1, summarizer=_BrokenSummarizer()
    )
    turns = (_conversation(compactor, 1) for _ in range(12))
    request = next(r for r in turns if r.compactions)
    assert "/home/someone" in request.compactions[0].steps[0].note  # the receipt keeps it
    text = render_snapshot(request)
    assert re.search(
        r"^   offline_summary .* _BrokenSummarizer failed \(OSError\); the offline summarizer "
        r"wrote the summary$",
        text,
        re.M,
    ), text
    assert "/home" not in text
    assert "gone" not in text


@pytest.mark.parametrize(
    ("note", "shown"),
    [
        (
            "the session budget could not pay for a Fine summary (session:s: requesting 131 "
            "tokens would exceed the cap of 50); the offline summarizer wrote the summary",
            "the session budget could not pay for a Fine summary (BudgetExhausted); the "
            "offline summarizer wrote the summary",
        ),
        ("read /home/me/notes.txt (see\r\nlog)", "read notes.txt (see log)"),
        ("", ""),
    ],
)
def test_other_receipt_notes_lose_machine_detail(note: str, shown: str) -> None:
    """A refused payment shows no budget message; another note loses its folders."""
    from ctxbudget.testing._render import _stable_note

    assert _stable_note(note) == shown


def test_message_parts_and_extra_keys_render_sorted() -> None:
    """A message's other keys print sorted as JSON; text parts as text, other parts as JSON."""
    messages = (
        {"role": "user", "name": "maya", "content": [{"type": "text", "text": "hi\r\nthere"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f"}}],
        },
    )
    request = CompactorRequest(messages, (5, 9), window_tokens=100, tokenizer="test-char")
    text = render_snapshot(request)
    assert '----- message 1: user -----\nname: "maya"\nhi\nthere\n' in text
    assert (
        '----- message 2: assistant -----\ntool_calls: [{"function": {"name": "f"}, '
        '"id": "c1", "type": "function"}]\n----- end of messages -----\n'
    ) in text
    assert "compactions: 0" in text
    with pytest.raises(ValueError, match="2 messages but 1 token counts"):
        CompactorRequest(messages, (5,), window_tokens=100, tokenizer="test-char")


_ODD_VALUES = (
    "from decimal import Decimal\n"
    "from ctxbudget.testing import CompactorRequest, render_snapshot\n"
    "message = {'role': 'user', 'content': [{'type': 'image', 'ids': {'b', 'a', 'c', 'd'}}],\n"
    "           'tags': {'alpha', 'beta', 'gamma', 'delta', 'eps'},\n"
    "           'mixed': {1: 'one', 'b': 2, None: frozenset({3, 'x', 'y'})},\n"
    "           'price': Decimal('1.50')}\n"
    "print(render_snapshot(CompactorRequest((message,), (9,), 100, 'test-char')), end='')\n"
)


def test_sets_and_mixed_keys_render_the_same_under_any_hash_seed() -> None:
    """Sets print sorted, keys of mixed types sort as JSON writes them (a dict with int and
    str keys used to raise TypeError from sort_keys, and sets printed in hash order)."""
    outputs = {
        subprocess.run(
            [sys.executable, "-c", _ODD_VALUES],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    text = outputs.pop()
    assert 'tags: ["alpha", "beta", "delta", "eps", "gamma"]\n' in text
    assert 'mixed: {"1": "one", "b": 2, "null": ["x", "y", 3]}\n' in text
    assert '[part] {"ids": ["a", "b", "c", "d"], "type": "image"}\n' in text
    assert 'price: "1.50"\n' in text


class _Opaque:
    pass


@pytest.mark.parametrize("value", [_Opaque(), lambda: 1, _Opaque().__init__])
def test_an_object_without_stable_text_is_refused_naming_message_key_and_type(
    value: object,
) -> None:
    """An object whose text is object's default or holds its memory address would make a
    snapshot that never matches twice: a one-line TypeError names where it is and its type."""
    message = {"role": "user", "content": "hi", "meta": {"handle": value}}
    request = CompactorRequest((message,), (3,), window_tokens=100, tokenizer="test-char")
    with pytest.raises(TypeError) as info:
        render_snapshot(request)
    text = str(info.value)
    assert "\n" not in text
    kind = type(value)
    assert text.startswith(
        f"render_snapshot(): message 1, key 'meta': a {kind.__module__}.{kind.__qualname__} "
    )


@pytest.mark.parametrize("value", [[{"role": "user", "content": "hi"}], "text", None])
def test_other_types_raise_one_line_type_error_naming_them(value: object) -> None:
    """A list of messages, a string or None is refused with the type in the message."""
    with pytest.raises(TypeError) as info:
        render_snapshot(value)
    message = str(info.value)
    assert "\n" not in message
    assert message.endswith(f"not builtins.{type(value).__qualname__}")
    assert "compactor_step" in message


def test_the_text_is_identical_in_fresh_processes_with_different_hash_seeds() -> None:
    """Two interpreters with different PYTHONHASHSEED render the same build and request,
    byte for byte, and the same as this process."""
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        from test_testing_kit import _build, _conversation
        from ctxbudget import Compactor
        from ctxbudget.testing import CharTokenizer, render_snapshot
        compactor = Compactor(1500, tokenizer=CharTokenizer(), keep_last_turns=1)
        sys.stdout.write(render_snapshot(_build()))
        sys.stdout.write(render_snapshot(_conversation(compactor, 12)))
        """
    )
    outputs = []
    for seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", script, str(Path(__file__).parent)],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.append(done.stdout)
    here = render_snapshot(_build()) + render_snapshot(
        _conversation(Compactor(1500, tokenizer=CharTokenizer(), keep_last_turns=1), 12)
    )
    assert outputs[0] == outputs[1] == here.encode()


def test_a_build_matches_its_snapshot(snapshot: SnapshotAssertion) -> None:
    """Our own snapshot of a rendered build, stored by the extension as a .txt file."""
    assert _build() == snapshot.use_extension(ContextSnapshotExtension)


def test_a_compactor_request_matches_its_snapshot(snapshot: SnapshotAssertion) -> None:
    """Our own snapshot of a rendered request after compactions."""
    request = _conversation(Compactor(1500, tokenizer=CharTokenizer(), keep_last_turns=1), 9)
    assert request == snapshot.use_extension(ContextSnapshotExtension)


# -- the pytest plugin, on a user's project ---------------------------------------------------

USER_TESTS = """
from ctxbudget import Compactor
from ctxbudget.testing import CharTokenizer, compactor_step
from ctxbudget.testing.syrupy import AmberContextSnapshotExtension

CITY = "Lisbon"


def sections():
    return {
        "facts": [f"Maya lives in {CITY}.", "She takes her tea without sugar."],
        "history": [f"turn {i}: we talked about the garden" for i in range(20)],
    }


def test_prompt(ctxbudget_build, ctxbudget_snapshot):
    result = ctxbudget_build(sections(), max_tokens=60)
    assert result.tokenizer == "test-word"
    assert result.tokens <= 60
    assert result == ctxbudget_snapshot


def test_prompt_in_amber(ctxbudget_build, snapshot):
    result = ctxbudget_build(sections(), max_tokens=60)
    assert result == snapshot.use_extension(AmberContextSnapshotExtension)


def test_request(ctxbudget_snapshot):
    compactor = Compactor(1500, tokenizer=CharTokenizer(), keep_last_turns=1)
    for i in range(9):
        request = compactor_step(
            compactor,
            {"role": "user", "content": f"question {i} " * 5},
            {"role": "assistant", "content": f"answer {i} " * 6},
        )
    assert request.compactions
    assert request == ctxbudget_snapshot


def test_tokenizer_ledger_and_budget(ctxbudget_tokenizer, ctxbudget_ledger, ctxbudget_budget):
    assert ctxbudget_tokenizer.count("two words") == 3
    assert ctxbudget_budget.ledger is ctxbudget_ledger
    assert ctxbudget_budget.session_cap == 100_000  # CTXBUDGET_SESSION_TOKEN_CAP ignored
    with ctxbudget_budget.reserve(50, session="s") as reservation:
        reservation.commit(input_tokens=20, output_tokens=10)
    assert ctxbudget_budget.status("s").used == 30


def test_build_takes_another_tokenizer(ctxbudget_build):
    assert ctxbudget_build({"facts": "abc"}, tokenizer=CharTokenizer()).tokenizer == "test-char"
"""

#: The plugin by its module name, whether or not the entry point is installed (the entry
#: point has the module's name, so pytest finds the module registered and skips it).
PLUGIN = ("-p", "ctxbudget.testing.pytest_plugin", "-p", "no:cacheprovider")


@pytest.fixture(autouse=True)
def _current_entry_point(request: pytest.FixtureRequest) -> None:
    """A pytester test needs the installed entry point to be the one pyproject declares: an
    install made before its rename still registers the module under the old name, and
    naming the module again then fails (reinstall: `pip install -e .`). Under CI, which
    installs the checkout, it must match."""
    if "pytester" not in request.fixturenames:
        return
    installed = _installed_plugins()
    if installed and installed != _declared_plugins():
        if os.environ.get("CI") == "true":
            pytest.fail(f"installed pytest11 entry points {installed} are not pyproject's")
        pytest.skip(f"installed pytest11 entry points {installed} are stale: pip install -e .")


def test_a_user_project_snapshots_builds_and_requests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--snapshot-update writes the .txt and .ambr snapshots with the table; the next run
    passes; a changed input fails both build snapshots with a diff naming the change."""
    monkeypatch.setenv("CTXBUDGET_SESSION_TOKEN_CAP", "7")
    pytester.makepyfile(test_prompts=USER_TESTS)
    first = pytester.runpytest(*PLUGIN, "--snapshot-update")
    first.assert_outcomes(passed=5)
    folder = pytester.path / "__snapshots__"
    stored = (folder / "test_prompts" / "test_prompt.txt").read_text(encoding="utf-8")
    assert stored.startswith("ctxbudget BuiltContext\ncap: 60 tokens  total: ")
    assert re.search(r"^history +trimmed +1 +- ", stored, re.M)
    assert "----- text -----\n## Facts\nMaya lives in Lisbon.\n" in stored
    request = (folder / "test_prompts" / "test_request.txt").read_text(encoding="utf-8")
    assert "compactions: 1\n1. " in request
    amber = (folder / "test_prompts.ambr").read_text(encoding="utf-8")
    assert "# name: test_prompt_in_amber" in amber
    assert "\n  history  trimmed" in amber  # the table, indented as an amber string

    pytester.runpytest(*PLUGIN).assert_outcomes(passed=5)

    pytester.makepyfile(test_prompts=USER_TESTS.replace('"Lisbon"', '"Porto"'))
    changed = pytester.runpytest(*PLUGIN, "-vv")
    changed.assert_outcomes(passed=3, failed=2)
    out = changed.stdout.str()
    assert re.search(r"^E\s+- Maya lives in Lisbon\.", out, re.M), out
    assert re.search(r"^E\s+\+ Maya lives in Porto\.", out, re.M), out
    assert (folder / "test_prompts" / "test_prompt.txt").read_text(encoding="utf-8") == stored


def test_without_syrupy_the_snapshot_fixture_names_the_install(pytester: pytest.Pytester) -> None:
    """With syrupy unimportable, the plugin still loads and its other fixtures work; the
    snapshot fixture errors at setup naming `pip install syrupy`."""
    pytester.makeconftest("import sys\nsys.modules['syrupy'] = None\n")
    pytester.makepyfile(
        test_plain="""
        def test_build(ctxbudget_build):
            assert ctxbudget_build({"facts": "a b"}).tokens > 0

        def test_snapshot(ctxbudget_snapshot):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN, "-p", "no:syrupy")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ctxbudget_snapshot needs syrupy*: pip install syrupy*"])


def test_with_syrupys_plugin_off_the_snapshot_fixture_says_so(pytester: pytest.Pytester) -> None:
    """syrupy installed but -p no:syrupy: the fixture's error names that option."""
    pytester.makepyfile("def test_snapshot(ctxbudget_snapshot):\n    pass\n")
    result = pytester.runpytest(*PLUGIN, "-p", "no:syrupy")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*syrupy's pytest plugin, which is not loaded*-p no:syrupy*"])


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    """pytest loads the plugin in every run of anyone who installed ctxbudget: importing it
    loads only pytest and ctxbudget's base, never syrupy or the library's stacks."""
    script = (
        "import sys, json\nimport ctxbudget.testing.pytest_plugin\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert sorted(m for m in loaded if m.startswith("ctxbudget")) == [
        "ctxbudget", "ctxbudget._errors", "ctxbudget._lazy", "ctxbudget._version",
        "ctxbudget.testing", "ctxbudget.testing._tokenizers", "ctxbudget.testing.pytest_plugin",
    ]  # fmt: skip
    heavy = {"syrupy", "pydantic", "tiktoken", "tokenizers", "yaml", "jinja2", "rich", "typer"}
    assert sorted(heavy & {m.partition(".")[0] for m in loaded}) == []


def _declared_plugins() -> dict[str, str]:
    """pyproject.toml's [project.entry-points.pytest11]."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pytest depends on tomli before 3.11
        import tomli as tomllib
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(data["project"]["entry-points"]["pytest11"])


def _installed_plugins() -> dict[str, str]:
    """The pytest11 entry points of the installed ctxbudget distribution, if any."""
    from importlib.metadata import entry_points

    return {
        ep.name: ep.value
        for ep in entry_points(group="pytest11")
        if ep.dist is not None and ep.dist.name == "ctxbudget"
    }


def test_the_entry_point_is_declared_under_the_modules_name() -> None:
    """pyproject declares the pytest11 entry point for the plugin module under the module's
    own name (so a conftest or -p naming the module finds it registered); under CI, which
    installs `-e .[test]`, the installed one is that."""
    from ctxbudget.testing import pytest_plugin

    module = "ctxbudget.testing.pytest_plugin"
    assert _declared_plugins() == {module: module}
    assert callable(getattr(pytest_plugin, "ctxbudget_build", None))
    if os.environ.get("CI") == "true":
        assert _installed_plugins() == _declared_plugins()


def test_when_installed_the_plugin_autoloads(pytester: pytest.Pytester) -> None:
    """Where ctxbudget is installed with the entry point, pytest loads the fixtures with no
    -p at all."""
    if not _installed_plugins():  # a checkout installed before the plugin existed has none
        pytest.skip("ctxbudget is installed without its pytest11 entry point")
    pytester.makepyfile("def test_it(ctxbudget_tokenizer):\n    assert ctxbudget_tokenizer\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


USES_A_FIXTURE = "def test_it(ctxbudget_tokenizer):\n    assert ctxbudget_tokenizer\n"


def test_a_conftest_can_name_the_plugin_whether_or_not_it_is_installed(
    pytester: pytest.Pytester,
) -> None:
    """`pytest_plugins = ["ctxbudget.testing.pytest_plugin"]` (the route docs/testing.md gives
    for source trees) works with the entry point installed too: it used to be registered
    under `ctxbudget` and the second registration stopped the run (ValueError: Plugin
    already registered under a different name)."""
    pytester.makeconftest('pytest_plugins = ["ctxbudget.testing.pytest_plugin"]\n')
    pytester.makepyfile(USES_A_FIXTURE)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_p_can_name_the_plugin_and_no_turns_it_off(pytester: pytest.Pytester) -> None:
    """`-p ctxbudget.testing.pytest_plugin` loads it once, installed or not; `-p no:` with
    that name turns it off (the fixture is then unknown)."""
    pytester.makepyfile(USES_A_FIXTURE)
    on = pytester.runpytest_subprocess(
        "-p", "ctxbudget.testing.pytest_plugin", "-p", "no:cacheprovider"
    )
    on.assert_outcomes(passed=1)
    off = pytester.runpytest_subprocess(
        "-p", "no:ctxbudget.testing.pytest_plugin", "-p", "no:cacheprovider"
    )
    off.assert_outcomes(errors=1)
    off.stdout.fnmatch_lines(["*fixture 'ctxbudget_tokenizer' not found*"])
