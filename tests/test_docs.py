"""The README and the documentation site, checked without mkdocs (CI builds the site itself).

- every README link is absolute (it is the PyPI page too) and names a real file or page;
- every README Python block runs as written, from a fresh directory;
- every page in docs/ is in the mkdocs nav, and every nav entry exists (or is generated);
- every preset has a generated page, built by the hook's own function, listed in the nav;
- every marker the hook expands is known.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / "docs" / "hooks"
README = (ROOT / "README.md").read_text(encoding="utf-8")
SITE = "https://ctxbudget.github.io/ctxbudget/"
REPO = "https://github.com/ctxbudget/ctxbudget"
#: Pages in docs/ on purpose not in the nav (none today).
NOT_IN_NAV: set[str] = set()


def _hook() -> ModuleType:
    path = HOOKS / "presets.py"
    spec = importlib.util.spec_from_file_location("ctxbudget_docs_hook", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = _hook()


class _MkdocsLoader(yaml.SafeLoader):
    """Reads mkdocs.yml: its ``!!python/name:`` tags become their text."""


_MkdocsLoader.add_multi_constructor(
    "tag:yaml.org,2002:python/name:", lambda loader, suffix, node: suffix
)


def _config() -> dict[str, Any]:
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    return yaml.load(text, Loader=_MkdocsLoader)  # noqa: S506 (a SafeLoader subclass)


def _nav_pages(entries: Any) -> list[str]:
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, list):
        return [page for entry in entries for page in _nav_pages(entry)]
    if isinstance(entries, dict):
        return [page for value in entries.values() for page in _nav_pages(value)]
    return []


def _nav_with_presets() -> list[str]:
    config = SimpleNamespace(nav=_config()["nav"])
    hook.on_config(config)
    return _nav_pages(config.nav)


# -- README ----------------------------------------------------------------------------------


def _readme_links() -> list[str]:
    inline = re.findall(r"\]\(([^)\s]+)\)", README)
    auto = re.findall(r"<(https?://[^>]+)>", README)
    return inline + auto


def test_every_readme_link_is_absolute_https() -> None:
    links = _readme_links()
    assert links
    relative = [link for link in links if not link.startswith("https://")]
    assert relative == [], "README.md is the PyPI page too: links must be absolute https"


def test_every_readme_link_names_a_real_file_or_page() -> None:
    pages = set(_nav_with_presets())
    for link in _readme_links():
        url = link.split("#", 1)[0]
        if url.startswith(SITE):
            page = url.removeprefix(SITE).strip("/")
            candidates = {f"{page}.md", f"{page}/index.md"} if page else {"index.md"}
            assert candidates & pages, f"{link}: no such page in the mkdocs nav"
        elif url.startswith((f"{REPO}/blob/main/", f"{REPO}/tree/main/")):
            path = url.split("/main/", 1)[1]
            assert (ROOT / path).exists(), f"{link}: no {path} in the repository"


def test_readme_test_command_is_the_one_ci_runs() -> None:
    command = "python3 -m pip install -e '.[test]' && python3 -m pytest"
    assert f"```sh\n{command}\n```" in README
    assert command in (ROOT / ".ci/run").read_text(encoding="utf-8")


def test_readme_cap_is_found_for_the_preset_pages() -> None:
    assert hook.readme_cap() == 1500


@pytest.mark.parametrize(
    "code",
    re.findall(r"^```python\n(.*?)^```", README, re.S | re.M),
    ids=lambda code: code.splitlines()[0][:40],
)
def test_readme_python_block_runs_as_written(code: str, tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]


# -- the site ----------------------------------------------------------------------------------


def test_every_docs_page_is_in_the_nav_and_every_nav_page_exists() -> None:
    nav = _nav_with_presets()
    generated = {f"presets/{name}.md" for name in hook.preset_names()}
    on_disk = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert sorted(on_disk - set(nav) - NOT_IN_NAV) == []
    assert sorted(set(nav) - on_disk - generated) == []
    assert len(nav) == len(set(nav)), "a page is listed twice"


def test_every_preset_has_a_generated_page_listed_in_the_nav() -> None:
    from ctxbudget.context import ContextBuilder, load_sections

    names = hook.preset_names()
    assert names == sorted(p.stem for p in (ROOT / "presets").glob("*.yaml"))
    assert "default" in names
    nav = _nav_with_presets()
    for name in names:
        assert f"presets/{name}.md" in nav
        page = hook.preset_page(name)
        assert page.startswith(f"# Preset `{name}`\n")
        example = hook.example_dir(name).relative_to(ROOT).as_posix()
        assert f"ctxbudget build {example} --max-tokens 1500 --preset {name}" in page
        result = ContextBuilder(
            tokenizer="o200k_base", preset=ROOT / "presets" / f"{name}.yaml", max_tokens=1500
        ).build(load_sections([ROOT / example]))
        assert f"**{result.tokens:,} tokens**" in page
        for r in result.sections:
            assert f"| `{r.name}` | {r.priority:g} | {r.status}" in page
        assert result.text in page


def test_the_preset_pages_use_the_command_lines_defaults() -> None:
    defaults = hook.cli_defaults()
    assert defaults["--tokenizer"] == "o200k_base"
    assert defaults["--preset"] == "default"


def test_every_marker_in_the_docs_is_known() -> None:
    for path in (ROOT / "docs").rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        expanded = hook.expand_markers(text, str(path))
        assert "<!-- ctxbudget:" not in expanded, path


def test_the_report_picture_is_the_command_lines_own() -> None:
    """The docs embed the SVG that ``ctxbudget build --report`` writes for the README example."""
    svg = hook.report_svg()
    assert svg.lstrip().startswith(b"<svg")
    assert b"summaries" in svg
    assert hook.REPORT_URI in hook.report_picture()


def test_template_variables_page_lists_every_field_a_template_sees() -> None:
    from ctxbudget.context import SectionView

    page = (ROOT / "docs/templates.md").read_text(encoding="utf-8")
    for field in dataclasses.fields(SectionView):
        assert f"| `{field.name}` |" in page


def test_the_hooks_stay_readable_in_one_sitting() -> None:
    """The project's module size limit (tests/test_architecture.py) holds for docs/hooks too."""
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in HOOKS.glob("*.py")}
    assert sizes
    assert {name: n for name, n in sizes.items() if n > 410} == {}
