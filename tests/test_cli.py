"""The ``ctxbudget`` command line: build, count, presets, and its error handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli_errors import assert_one_error
from typer.testing import CliRunner

from ctxbudget import get_tokenizer
from ctxbudget.cli import app

REPO = Path(__file__).resolve().parents[1]
MEMORY = REPO / "examples" / "memory"
MEMORY_SECTIONS = [
    "summaries",
    "userProfile",
    "userFacts",
    "entities",
    "graph",
    "decisions",
    "learnings",
    "procedures",
]
BUNDLED = [
    "agent-session",
    "audit-focused",
    "crm",
    "default",
    "knowledge-heavy",
    "long-conversations",
]
STATUSES = {"full", "trimmed", "dropped", "failed"}


@pytest.fixture
def runner() -> CliRunner:
    """A CLI runner; click >= 8.2 keeps stdout and stderr apart."""
    return CliRunner()


def _count(text: str, spec: str = "o200k_base") -> int:
    return get_tokenizer(spec).count(text)


def _context(stdout: str) -> str:
    """The assembled context: all of stdout (nothing is added to it when it is not a tty)."""
    return stdout


def _row(output: str, name: str) -> str:
    """The table row of ``output`` whose first cell is ``name``."""
    rows = [line for line in output.splitlines() if line.startswith(f"│ {name} ")]
    assert len(rows) == 1, output
    return rows[0]


# --- build --------------------------------------------------------------------------------------


def test_build_prints_context_within_cap_and_report_on_stderr(runner: CliRunner) -> None:
    """build prints the assembled context (<= cap in o200k_base) to stdout, the table to stderr."""
    result = runner.invoke(app, ["build", str(MEMORY), "--max-tokens", "600"])
    assert result.exit_code == 0, result.stderr
    text = _context(result.stdout)
    assert text.startswith("## Summaries\n")
    assert 0 < _count(text) <= 600
    assert "## Entities\n" in text
    assert "## User facts\n" in text
    for name in MEMORY_SECTIONS:
        assert name in result.stderr, name
    assert "600" in result.stderr
    assert "o200k_base" in result.stderr
    assert "preset default" in result.stderr
    assert "## Summaries" not in result.stderr
    assert "┃ section" not in result.stdout


def test_build_json_report(runner: CliRunner) -> None:
    """build --json prints the full report as JSON with text, tokens and per-section status."""
    result = runner.invoke(app, ["build", str(MEMORY), "--max-tokens", "600", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"text", "tokens", "max_tokens", "tokenizer", "sections"} <= set(report)
    assert report["max_tokens"] == 600
    assert report["tokenizer"] == "o200k_base"
    assert report["tokens"] <= 600
    assert report["tokens"] == _count(report["text"])
    assert report["text"].startswith("## Summaries\n")
    assert sorted(s["name"] for s in report["sections"]) == sorted(MEMORY_SECTIONS)
    for section in report["sections"]:
        assert section["status"] in STATUSES
    assert any(s["status"] == "trimmed" for s in report["sections"])
    assert result.stderr == ""


def test_build_json_without_trimming_keeps_everything(runner: CliRunner) -> None:
    """With a cap far above the content every section is reported full."""
    result = runner.invoke(app, ["build", str(MEMORY), "--max-tokens", "100000", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert {s["status"] for s in report["sections"]} == {"full"}
    summaries = (MEMORY / "summaries.md").read_text(encoding="utf-8").strip()
    assert summaries in report["text"]


def test_build_with_bundled_preset_crm(runner: CliRunner) -> None:
    """--preset crm applies crm's weights (userFacts and entities at 0.25)."""
    result = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "600", "--preset", "crm", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    priorities = {s["name"]: s["priority"] for s in report["sections"]}
    assert priorities["userFacts"] == pytest.approx(0.25)
    assert priorities["entities"] == pytest.approx(0.25)
    assert priorities["procedures"] == pytest.approx(0.02)
    assert report["tokens"] <= 600


def test_build_with_preset_crm_table_names_preset(runner: CliRunner) -> None:
    """The stderr table's title names the preset given with --preset."""
    result = runner.invoke(app, ["build", str(MEMORY), "--max-tokens", "600", "--preset", "crm"])
    assert result.exit_code == 0, result.stderr
    assert "preset crm" in result.stderr
    assert _count(_context(result.stdout)) <= 600


def test_build_with_preset_file(runner: CliRunner, tmp_path: Path) -> None:
    """--preset with a YAML file path uses its weights and its cap when none is given."""
    preset = tmp_path / "mine.yaml"
    preset.write_text(
        "extends: default\nmax_tokens: 300\nsections:\n  graph: 0.9\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["build", str(MEMORY), "--preset", str(preset), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["max_tokens"] == 300
    assert report["tokens"] <= 300
    priorities = {s["name"]: s["priority"] for s in report["sections"]}
    assert priorities["graph"] == pytest.approx(0.9)
    assert report["text"].startswith("## Graph\n")


def test_build_with_cl100k_base(runner: CliRunner) -> None:
    """--tokenizer cl100k_base counts with cl100k_base and stays within the cap."""
    result = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "500", "--tokenizer", "cl100k_base"]
    )
    assert result.exit_code == 0, result.stderr
    assert _count(_context(result.stdout), "cl100k_base") <= 500
    assert "cl100k_base" in result.stderr
    assert "approximate" not in result.stderr


def test_build_with_approx_tokenizer(runner: CliRunner) -> None:
    """--tokenizer approx builds within ceil(chars / 4) <= cap and says it is approximate."""
    result = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "400", "--tokenizer", "approx"]
    )
    assert result.exit_code == 0, result.stderr
    text = _context(result.stdout)
    assert -(-len(text) // 4) <= 400
    assert "approx (approximate)" in result.stderr

    as_json = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "400", "--tokenizer", "approx", "--json"]
    )
    report = json.loads(as_json.stdout)
    assert report["tokenizer"] == "approx"
    assert report["approximate"] is True


def test_build_with_hf_tokenizer(runner: CliRunner, hf_tokenizer_json: Path) -> None:
    """--tokenizer hf:<tokenizer.json> counts with that Hugging Face tokenizer."""
    from tokenizers import Tokenizer

    spec = f"hf:{hf_tokenizer_json}"
    result = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "500", "--tokenizer", spec, "--json"]
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["tokenizer"] == spec
    assert report["approximate"] is False
    hf = Tokenizer.from_file(str(hf_tokenizer_json))
    assert len(hf.encode(report["text"], add_special_tokens=False).ids) <= 500
    assert report["text"].startswith("## Summaries\n")


def test_build_front_matter_sets_name_and_options(runner: CliRunner, tmp_path: Path) -> None:
    """Front matter name, weight and required become the section's name and options."""
    (tmp_path / "notes.md").write_text(
        "---\nname: pinned\nweight: 0.9\nrequired: true\n---\nalpha beta gamma\n",
        encoding="utf-8",
    )
    (tmp_path / "other.md").write_text("- one\n- two\n", encoding="utf-8")
    result = runner.invoke(app, ["build", str(tmp_path), "--max-tokens", "100", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    by_name = {s["name"]: s for s in report["sections"]}
    assert set(by_name) == {"pinned", "other"}
    assert by_name["pinned"]["priority"] == pytest.approx(0.9)
    assert by_name["pinned"]["required"] is True
    assert by_name["other"]["required"] is False
    assert report["text"].startswith("## Pinned\nalpha beta gamma")
    assert "---" not in report["text"]
    assert "weight: 0.9" not in report["text"]


def test_build_required_front_matter_survives_a_tight_cap(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A required section is kept whole while an optional one is trimmed to fit."""
    (tmp_path / "a.md").write_text(
        "---\nrequired: true\nweight: 0.1\n---\nkeep this exact line\n", encoding="utf-8"
    )
    (tmp_path / "b.md").write_text(
        "".join(f"- filler item number {i}\n" for i in range(60)), encoding="utf-8"
    )
    result = runner.invoke(app, ["build", str(tmp_path), "--max-tokens", "60", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    by_name = {s["name"]: s for s in report["sections"]}
    assert by_name["a"]["status"] == "full"
    assert by_name["b"]["status"] == "trimmed"
    assert "keep this exact line" in report["text"]
    assert report["tokens"] <= 60


# --- count --------------------------------------------------------------------------------------


def test_count_lists_every_file_and_total(runner: CliRunner) -> None:
    """count prints a row per file with its token count and a total row."""
    result = runner.invoke(app, ["count", str(MEMORY)])
    assert result.exit_code == 0, result.stderr
    counts = {p.stem: _count(p.read_text(encoding="utf-8")) for p in sorted(MEMORY.glob("*.md"))}
    for name, n in counts.items():
        assert _row(result.stdout, name).split("│")[2].strip() == f"{n:,}", name
    total = _row(result.stdout, "total").split("│")[2].strip()
    assert total == f"{sum(counts.values()):,}"
    assert "o200k_base" in result.stdout


def test_count_json(runner: CliRunner) -> None:
    """count --json prints tokenizer, per-section counts and their total."""
    result = runner.invoke(app, ["count", str(MEMORY), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tokenizer"] == "o200k_base"
    assert sorted(data["sections"]) == sorted(MEMORY_SECTIONS)
    for name, n in data["sections"].items():
        assert n == _count((MEMORY / f"{name}.md").read_text(encoding="utf-8")), name
    assert data["total"] == sum(data["sections"].values())


def test_count_excludes_front_matter(runner: CliRunner, tmp_path: Path) -> None:
    """count measures the body only, named by front matter."""
    (tmp_path / "f.md").write_text("---\nname: facts\n---\nhello world\n", encoding="utf-8")
    result = runner.invoke(app, ["count", str(tmp_path), "--json", "-t", "approx"])
    assert result.exit_code == 0, result.stderr
    # "hello world\n" is 12 characters: 3 approximate tokens.
    assert json.loads(result.stdout)["sections"] == {"facts": 3}


# --- presets ------------------------------------------------------------------------------------


def test_presets_list_names_all_bundled(runner: CliRunner) -> None:
    """presets list shows all six bundled presets and agent-session's 200,000 cap."""
    result = runner.invoke(app, ["presets", "list"])
    assert result.exit_code == 0, result.stderr
    for name in BUNDLED:
        assert name in result.stdout, name
    assert "200,000" in result.stdout


def test_presets_show_default_weights(runner: CliRunner) -> None:
    """presets show default lists each section with its weight and inherited options."""
    result = runner.invoke(app, ["presets", "show", "default"])
    assert result.exit_code == 0, result.stderr
    expected = {
        "summaries": "0.25",
        "userProfile": "0.15",
        "userFacts": "0.15",
        "entities": "0.15",
        "graph": "0.1",
        "decisions": "0.1",
        "learnings": "0.05",
        "procedures": "0.05",
    }
    for name, weight in expected.items():
        assert _row(result.stdout, name).split("│")[2].strip() == weight, name
    assert "split=bullets" in _row(result.stdout, "entities")
    assert "split=paragraphs" in _row(result.stdout, "procedures")


def test_presets_show_resolves_extends(runner: CliRunner) -> None:
    """presets show crm shows crm's overrides and default's inherited options."""
    result = runner.invoke(app, ["presets", "show", "crm"])
    assert result.exit_code == 0, result.stderr
    entities = _row(result.stdout, "entities")
    assert entities.split("│")[2].strip() == "0.25"
    assert "split=bullets" in entities
    assert _row(result.stdout, "procedures").split("│")[2].strip() == "0.02"


def test_presets_show_unknown_name(runner: CliRunner) -> None:
    """presets show nosuch exits 2 with one 'error:' line listing bundled names."""
    result = runner.invoke(app, ["presets", "show", "nosuch"])
    line = assert_one_error(result, "nosuch")
    for name in BUNDLED:
        assert name in line


# --- errors -------------------------------------------------------------------------------------


def test_error_missing_path(runner: CliRunner, tmp_path: Path) -> None:
    """A missing input path exits 2 with one error line naming it."""
    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["build", str(missing), "--max-tokens", "100"])
    assert_one_error(result, str(missing))


def test_error_missing_path_in_count(runner: CliRunner, tmp_path: Path) -> None:
    """count with a missing path exits 2 with one error line."""
    missing = tmp_path / "nowhere"
    assert_one_error(runner.invoke(app, ["count", str(missing)]), str(missing))


def test_error_unknown_tokenizer(runner: CliRunner) -> None:
    """An unknown tokenizer exits 2 with one error line naming it."""
    result = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "100", "--tokenizer", "nosuch-tok"]
    )
    assert_one_error(result, "nosuch-tok")


def test_error_missing_hf_tokenizer_file(runner: CliRunner, tmp_path: Path) -> None:
    """An hf: tokenizer path that does not exist exits 2 with one error line."""
    spec = f"hf:{tmp_path / 'missing.json'}"
    assert_one_error(runner.invoke(app, ["count", str(MEMORY), "-t", spec]), "missing.json")


def test_error_unknown_preset(runner: CliRunner) -> None:
    """An unknown --preset name exits 2 with one error line."""
    result = runner.invoke(app, ["build", str(MEMORY), "--max-tokens", "100", "--preset", "nosuch"])
    assert_one_error(result, "unknown preset 'nosuch'")


def test_error_invalid_preset_file(runner: CliRunner, tmp_path: Path) -> None:
    """A preset file with a negative weight exits 2 naming the file, line and key."""
    preset = tmp_path / "bad.yaml"
    preset.write_text("sections:\n  summaries: 0.5\n  graph: -0.2\n", encoding="utf-8")
    result = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "100", "--preset", str(preset)]
    )
    assert_one_error(result, f"{preset}:3", "sections.graph.weight")


def test_error_preset_min_above_inherited_max(runner: CliRunner, tmp_path: Path) -> None:
    """A preset whose extends merge gives min_tokens > max_tokens exits 2, no traceback."""
    (tmp_path / "base.yaml").write_text(
        "sections:\n  graph:\n    weight: 0.5\n    min_tokens: 100\n", encoding="utf-8"
    )
    child = tmp_path / "child.yaml"
    child.write_text(
        "extends: base.yaml\nsections:\n  graph:\n    max_tokens: 10\n", encoding="utf-8"
    )
    result = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "100", "--preset", str(child)]
    )
    assert_one_error(result, "min_tokens")


def test_error_required_sections_exceed_cap(runner: CliRunner, tmp_path: Path) -> None:
    """A required section larger than the cap exits 2 saying what it needs and the cap."""
    big = tmp_path / "big.md"
    big.write_text("---\nrequired: true\n---\n" + "word " * 200 + "\n", encoding="utf-8")
    result = runner.invoke(app, ["build", str(big), "--max-tokens", "5"])
    assert_one_error(result, "'big'", "the cap is 5")


def test_error_bad_front_matter_key(runner: CliRunner, tmp_path: Path) -> None:
    """An unknown front matter key exits 2 naming the file and the key."""
    bad = tmp_path / "bad.md"
    bad.write_text("---\ncolour: red\n---\nbody\n", encoding="utf-8")
    result = runner.invoke(app, ["build", str(bad), "--max-tokens", "50"])
    assert_one_error(result, str(bad), "'colour'")


def test_error_non_utf8_file(runner: CliRunner, tmp_path: Path) -> None:
    """A file that is not UTF-8 exits 2 naming the file."""
    latin = tmp_path / "latin.md"
    latin.write_bytes(b"caf\xe9 au lait\n")
    result = runner.invoke(app, ["build", str(latin), "--max-tokens", "50"])
    assert_one_error(result, str(latin), "UTF-8")


def test_error_template_syntax(runner: CliRunner, tmp_path: Path) -> None:
    """A --template that does not parse exits 2 with one error line."""
    template = tmp_path / "t.j2"
    template.write_text("{% for s in sections %}\n{{ s.body }\n", encoding="utf-8")
    result = runner.invoke(
        app, ["build", str(MEMORY), "--max-tokens", "100", "--template", str(template)]
    )
    assert_one_error(result, str(template))


def test_debug_shows_the_exception(runner: CliRunner, tmp_path: Path) -> None:
    """--debug lets the exception out instead of printing one error line."""
    from ctxbudget import SectionError

    missing = tmp_path / "nowhere"
    result = runner.invoke(app, ["--debug", "build", str(missing)])
    assert result.exit_code not in (0, 2)
    assert isinstance(result.exception, SectionError)
    assert str(missing) in str(result.exception)
    assert "error: " not in result.stderr


def test_debug_flag_does_not_stick(runner: CliRunner, tmp_path: Path) -> None:
    """After a --debug run, a run without it prints the one-line error again."""
    missing = tmp_path / "nowhere"
    runner.invoke(app, ["--debug", "build", str(missing)])
    assert_one_error(runner.invoke(app, ["build", str(missing)]), str(missing))


# --- templates ----------------------------------------------------------------------------------


def test_template_syntax_in_content_is_verbatim(runner: CliRunner, tmp_path: Path) -> None:
    """Jinja2 syntax inside a section file is printed verbatim, never evaluated."""
    payload = "{{ 7*7 }}\n{% for x in range(3) %}x{% endfor %}"
    (tmp_path / "inj.md").write_text(payload + "\n", encoding="utf-8")
    result = runner.invoke(app, ["build", str(tmp_path), "--max-tokens", "100"])
    assert result.exit_code == 0, result.stderr
    assert payload in result.stdout
    assert "49" not in result.stdout
    assert "xxx" not in result.stdout


def test_custom_template_file(runner: CliRunner, tmp_path: Path) -> None:
    """--template renders the sections through the given Jinja2 file."""
    memory = tmp_path / "memory"
    memory.mkdir()
    (memory / "facts.md").write_text("---\nweight: 0.9\n---\nalpha\n", encoding="utf-8")
    (memory / "notes.md").write_text("beta\n", encoding="utf-8")
    template = tmp_path / "t.j2"
    template.write_text(
        "{% for s in sections %}<{{ s.name }}|{{ s.title }}>\n{{ s.body }}\n{% endfor %}END",
        encoding="utf-8",
    )
    result = runner.invoke(
        app, ["build", str(memory), "--max-tokens", "100", "--template", str(template)]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "<facts|Facts>\nalpha\n<notes|Notes>\nbeta\nEND"


def test_piped_stdout_is_within_the_cap_at_every_cap(runner: CliRunner, tmp_path: Path) -> None:
    """What reaches a pipe or file is the context itself, counted within the cap: no newline
    is appended that would take an exactly full context one token over."""
    memo = tmp_path / "facts.md"
    memo.write_text("\n".join(f"fact number {i} about the user" for i in range(40)))
    full = 0
    for cap in range(40, 140, 7):
        result = runner.invoke(
            app, ["build", str(memo), "--max-tokens", str(cap), "--tokenizer", "approx:1"]
        )
        assert result.exit_code == 0, result.stderr
        assert len(result.stdout) <= cap  # approx:1 counts one token per character
        full += len(result.stdout) == cap
    assert full > 0  # some builds fill the cap exactly: the case a newline would break
