"""mkdocs hook: the pages computed from the repository at build time, so they never go stale.

- One page per preset (``presets/<name>.md``, one per ``presets/*.yaml``): the file, its
  resolved weights, and the real example assembled with it, as ``ctxbudget build`` makes it
  (the README's cap, the command line's default tokenizer), with the allocation per section.
- Markers ``<!-- ctxbudget:NAME -->`` in committed pages, replaced by :data:`MARKERS`.
- ``assets/report.svg``, the command line's own picture of the README example
  (``ctxbudget build ... --report FILE.svg``).

Nothing here is committed output: mkdocs calls :func:`on_config`, :func:`on_files` and
:func:`on_page_markdown`; the tests call :func:`preset_page` and :func:`preset_names`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from html import escape
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
#: Where the site links a repository file (absolute, so the links work off GitHub too).
BLOB = "https://github.com/ctxbudget/ctxbudget/blob/main/"
TREE = "https://github.com/ctxbudget/ctxbudget/tree/main/"
#: The page a generated preset page is listed under in the nav.
NAV_SECTION = "Presets"
REPORT_URI = "assets/report.svg"


#: Colours of the sections in the allocation bar, in priority order (then repeated).
_COLOURS = ("#3366cc", "#dc7633", "#2e9e5b", "#c0392b", "#8e5bc4",
            "#8d6e63", "#d45fa8", "#7f8c8d", "#b7a10a", "#17a2b8")  # fmt: skip
_UNUSED = "#e0e0e0"


# -- what the pages are built from ----------------------------------------------------------


def preset_names(root: Path = ROOT) -> list[str]:
    """The presets in the repository, one per ``presets/*.yaml``, sorted."""
    return sorted(p.stem for p in (root / "presets").glob("*.yaml"))


def example_dir(name: str, root: Path = ROOT) -> Path:
    """The example a preset is shown with: ``examples/<name>`` if there is one (the
    ``agent-session`` preset's own sections), else ``examples/memory`` (the README's)."""
    own = root / "examples" / name
    return own if own.is_dir() else root / "examples" / "memory"


def readme_cap(root: Path = ROOT) -> int:
    """The cap of the README's ``ctxbudget build examples/memory --max-tokens N``, in tokens."""
    readme = (root / "README.md").read_text(encoding="utf-8")
    found = re.search(r"ctxbudget build examples/memory --max-tokens (\d+)", readme)
    if found is None:
        raise LookupError("README.md has no `ctxbudget build examples/memory --max-tokens N`")
    return int(found.group(1))


def cli_defaults() -> dict[str, Any]:
    """``ctxbudget build``'s default of each option, by option (``--preset``, ``--tokenizer``)."""
    from typer.main import get_command

    from ctxbudget.cli import app

    build = get_command(app).commands["build"]  # type: ignore[attr-defined]
    return {opt: p.default for p in build.params for opt in p.opts if opt.startswith("--")}


# -- one preset's page ------------------------------------------------------------------------


def preset_page(name: str, root: Path = ROOT) -> str:
    """The Markdown of ``presets/<name>.md``: the preset, and the example built with it."""
    from ctxbudget.context import ContextBuilder, load_preset, load_sections

    path = root / "presets" / f"{name}.yaml"
    preset = load_preset(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cap, tokenizer = readme_cap(root), cli_defaults()["--tokenizer"]
    example = example_dir(name, root)
    sections = load_sections([example])
    result = ContextBuilder(tokenizer=tokenizer, preset=path, max_tokens=cap).build(sections)
    example_rel = example.relative_to(root).as_posix()

    own_cap = f"{preset.max_tokens:,} tokens" if preset.max_tokens else "none"
    lines = [
        f"# Preset `{name}`",
        "",
        preset.description,
        "",
        f"- File: [`presets/{name}.yaml`]({BLOB}presets/{name}.yaml)",
        f"- Extends: {_extends(raw.get('extends'), root)}",
        f"- Its own cap: {own_cap}",
        f"- Weight of a section it does not name (`default_weight`): {preset.default_weight:g}",
        "",
        "```yaml",
        path.read_text(encoding="utf-8").rstrip("\n"),
        "```",
        "",
        "## Weights, inherited values resolved",
        "",
        *_weights_table(preset),
        "",
        "## The example, assembled",
        "",
        f"Built when this site was built, from the {len(sections)} files in "
        f"[`{example_rel}/`]({TREE}{example_rel}), exactly as this command builds it "
        f"(tokenizer `{tokenizer}`, the command line's default):",
        "",
        "```sh",
        f"ctxbudget build {example_rel} --max-tokens {cap} --preset {name}",
        "```",
        "",
        f"The assembled text has **{result.tokens:,} tokens** of a {cap:,}-token cap"
        + (
            " (`--max-tokens` takes precedence over the preset's own cap)."
            if preset.max_tokens
            else "."
        ),
        "",
        "### Allocation",
        "",
        _bar(result, cap),
        "",
        *_allocation_table(result),
        "",
        *_table_notes(result),
        "",
        "### The assembled text",
        "",
        *_fenced(result.text, "text"),
        "",
    ]
    return "\n".join(lines)


def _extends(value: object, root: Path) -> str:
    if not value:
        return "nothing"
    target = str(value)
    if (root / "presets" / f"{target}.yaml").is_file():
        return f"[`{target}`]({target}.md)"
    return f"`{target}`"


def _weights_table(preset: Any) -> list[str]:
    weights = preset.weights()
    total = sum(weights.values()) or 1.0
    rows = [
        "| section | weight | share of the named weights | other options |",
        "|---|---:|---:|---|",
    ]
    for section, spec in preset.sections.items():
        options = spec.model_dump(exclude_none=True, exclude={"weight"})
        shown = ", ".join(f"`{k}={v}`" for k, v in options.items()) or "-"
        rows.append(
            f"| `{section}` | {weights[section]:g} | {weights[section] / total:.0%} | {shown} |"
        )
    return rows


def _bar(result: Any, cap: int) -> str:
    """One stacked bar of the whole cap: each section's used tokens, then what is unused."""
    width, height, x = 1000.0, 28, 0.0
    rects = []
    for i, r in enumerate(result.sections):
        w = width * r.tokens_used / cap
        if w <= 0:
            continue
        label = escape(f"{r.name}: {r.tokens_used:,} tokens")
        rects.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" '
            f'fill="{_COLOURS[i % len(_COLOURS)]}"><title>{label}</title></rect>'
        )
        x += w
    rest = max(0.0, width - x)
    # as the command line's report: the room is the cap less the whole text's count (the
    # pieces' counts can add up to a little more, as tokens merge where pieces join)
    unused = escape(f"free: {max(0, cap - result.tokens):,} tokens")
    rects.append(
        f'<rect x="{x:.1f}" y="0" width="{rest:.1f}" height="{height}" '
        f'fill="{_UNUSED}"><title>{unused}</title></rect>'
    )
    svg = (
        f'<svg viewBox="0 0 {width:.0f} {height}" width="100%" role="img" '
        f'aria-label="tokens used per section, out of the {cap:,}-token cap">{"".join(rects)}</svg>'
    )
    return f'<div class="ctxbudget-bar">{svg}</div>'


def _allocation_table(result: Any) -> list[str]:
    rows = [
        "| | section | weight | status | demanded | allocated | used | leftover | items kept "
        "| items trimmed |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(result.sections):
        swatch = f'<span style="color:{_COLOURS[i % len(_COLOURS)]}">&#9632;</span>'
        status = r.status + (" (cut)" if r.cut else "")
        demanded = r.demand_text.replace(">=", "&ge;")
        leftover = f"+{r.tokens_leftover:,}" if r.tokens_leftover else ""
        rows.append(
            f"| {swatch} | `{r.name}` | {r.priority:g} | {status} | {demanded} | "
            f"{r.tokens_allocated:,} | {r.tokens_used:,} | {leftover} | {r.items_kept} | "
            f"{r.items_trimmed} |"
        )
    return rows


def _table_notes(result: Any) -> list[str]:
    notes = [
        "All numbers are tokens, except weights and item counts. The bar is the whole cap; "
        "each section's part is its *used* tokens, grey is unused.",
    ]
    if any(not r.demand_exact for r in result.sections):
        notes.append(
            "&ge; marks a lower bound: counting a section stops once it is known not to fit, "
            "so items beyond the cap are never counted."
        )
    if any(r.tokens_leftover for r in result.sections):
        notes.append(
            "*leftover* (+N): tokens used beyond the allocation. Room that whole-item trimming "
            "left unused goes to the highest priorities first, each taking its next whole items "
            "while they fit."
        )
    pieces = sum(r.tokens_used for r in result.sections)
    if pieces != result.tokens:
        notes.append(
            f"*used* is counted piece by piece ({pieces:,} in all); the whole text counts "
            f"{result.tokens:,}, as tokens merge where pieces join."
        )
    if any(r.cut for r in result.sections):
        notes.append(
            "*(cut)*: the section's one kept item was larger than its allocation and was cut "
            "at token level, with a `[…]` marker."
        )
    return [f"- {n}" for n in notes]


def _fenced(text: str, language: str) -> list[str]:
    """``text`` in a code fence longer than any run of backticks in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", text, fence]


# -- markers in committed pages ---------------------------------------------------------------


def presets_table(root: Path = ROOT) -> str:
    """A table of every preset, linking its page."""
    from ctxbudget.context import load_preset

    rows = ["| preset | what it is for | its own cap | example shown |", "|---|---|---:|---|"]
    for name in preset_names(root):
        preset = load_preset(root / "presets" / f"{name}.yaml")
        cap = f"{preset.max_tokens:,}" if preset.max_tokens else "-"
        example = example_dir(name, root).relative_to(root).as_posix()
        rows.append(f"| [`{name}`]({name}.md) | {preset.description} | {cap} | `{example}/` |")
    return "\n".join(rows)


def default_template() -> str:
    """``DEFAULT_TEMPLATE`` as a Jinja2 block, and what it renders for two small sections."""
    from ctxbudget.context import DEFAULT_TEMPLATE, build_context

    sample = build_context(
        {"userFacts": "Maya works in Lisbon\nMaya prefers short answers", "decisions": "Use UTC"}
    )
    return "\n".join(
        [
            *_fenced(DEFAULT_TEMPLATE, "jinja"),
            "",
            'For `build_context({"userFacts": "Maya works in Lisbon\\nMaya prefers short '
            'answers", "decisions": "Use UTC"})` it renders:',
            "",
            *_fenced(sample.text, "text"),
        ]
    )


def top_level_exports() -> str:
    """A table of the names ``ctxbudget`` re-exports, each linked to its subpackage's page."""
    import ctxbudget

    rows = ["| name | documented in |", "|---|---|"]
    for module, names in ctxbudget._EXPORTS.items():
        package = f"ctxbudget{module}"
        rows.extend(f"| [`{name}`][{package}.{name}] | `{package}` |" for name in sorted(names))
    return "\n".join(rows)


def example_tokens(root: Path = ROOT) -> str:
    """Tokens of every file in ``examples/memory``, as ``ctxbudget count`` counts them."""
    from ctxbudget.context import load_sections
    from ctxbudget.tokenizers import get_tokenizer

    tokenizer = get_tokenizer(cli_defaults()["--tokenizer"])
    sections = load_sections([root / "examples" / "memory"])
    return f"{sum(tokenizer.count(s.content) for s in sections if isinstance(s.content, str)):,}"


def sandbox_limits() -> str:
    """The template sandbox's limits, from ``ctxbudget._sandbox``."""
    from ctxbudget import _sandbox as sandbox

    return "\n".join(
        [
            f"- `range()` yields at most {sandbox.MAX_RANGE_ITEMS:,} items in one render, "
            "all calls together;",
            f"- the rendered text is at most {sandbox.MAX_OUTPUT_CHARS:,} characters, and so "
            "is a string or list repeated with `*`;",
            f"- `**` makes integers of at most {sandbox.MAX_POWER_BITS:,} bits.",
        ]
    )


def report_picture() -> str:
    """The report picture of the README example (``assets/report.svg``)."""
    return f"![The report of the command above]({REPORT_URI})"


MARKERS = {
    "presets-table": presets_table,
    "default-template": default_template,
    "cli-default-preset": lambda: f"`{cli_defaults()['--preset']}`",
    "cli-default-tokenizer": lambda: f"`{cli_defaults()['--tokenizer']}`",
    "readme-cap": lambda: f"{readme_cap():,}",
    "example-tokens": example_tokens,
    "sandbox-limits": sandbox_limits,
    "report-svg": report_picture,
    "top-level-exports": top_level_exports,
}
_MARKER = re.compile(r"<!-- ctxbudget:([a-z-]+) -->")


def expand_markers(markdown: str, where: str = "page") -> str:
    """``markdown`` with each ``<!-- ctxbudget:NAME -->`` replaced by ``MARKERS[NAME]()``."""

    def replace(match: re.Match[str]) -> str:
        make = MARKERS.get(match.group(1))
        if make is None:
            raise KeyError(f"{where}: unknown marker {match.group(0)}; known: {sorted(MARKERS)}")
        return str(make())

    return _MARKER.sub(replace, markdown)


def report_svg(root: Path = ROOT) -> bytes:
    """The SVG that ``ctxbudget build examples/memory --max-tokens N --report F`` writes."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "report.svg"
        command = [sys.executable, "-m", "ctxbudget.cli", "build", "examples/memory"]
        command += ["--max-tokens", str(readme_cap(root)), "--report", str(target)]
        env = {**os.environ, "COLUMNS": "100"}
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)  # noqa: S603
        return target.read_bytes()


# -- mkdocs events ----------------------------------------------------------------------------


def on_config(config: Any) -> Any:
    """Lists a page per preset under the nav's ``Presets`` section."""
    for entry in config.nav or []:
        if isinstance(entry, dict) and NAV_SECTION in entry:
            pages = entry[NAV_SECTION]
            pages.extend({f"{name}": f"presets/{name}.md"} for name in preset_names())
            return config
    raise LookupError(f"mkdocs.yml: the nav has no {NAV_SECTION!r} section for preset pages")


def on_files(files: Any, config: Any) -> Any:
    """Adds the generated pages (and the report picture) to the site's files."""
    from mkdocs.structure.files import File

    for name in preset_names():
        files.append(File.generated(config, f"presets/{name}.md", content=preset_page(name)))
    files.append(File.generated(config, REPORT_URI, content=report_svg()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Expands the markers."""
    return expand_markers(markdown, page.file.src_uri)
