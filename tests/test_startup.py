"""Startup stays light: `import ctxbudget` imports no optional or heavy stack, every public
name still resolves on first use, and the offline vocabulary load gives tiktoken's own
encoding (its speed is measured in benchmarks/startup.py; no timing is asserted here)."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ctxbudget

SRC = Path(__file__).resolve().parents[1] / "src" / "ctxbudget"

#: Stacks `import ctxbudget` must not import: each is imported where it is used.
HEAVY = (
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "typer",
    "click",
    "rich",
    "jinja2",
    "yaml",
    "redis",
    "tiktoken",
    "tokenizers",
    "huggingface_hub",
    "transformers",
    "httpx",
    "langchain_core",
    "langchain",
    "langgraph",
    "llama_index",
    "litellm",
    "pydantic_ai",
    "opentelemetry",
    "asyncio",
    "sqlite3",
    # the testing kit's (ctxbudget.testing.syrupy, .pytest_plugin), imported only by tests
    "syrupy",
    "pytest",
    "_pytest",
)

#: Packages whose __init__ re-exports lazily (messages/ and session/ledgers/ import eagerly).
LAZY_PACKAGES = (
    "ctxbudget",
    "ctxbudget.agents",
    "ctxbudget.context",
    "ctxbudget.memory",
    "ctxbudget.models",
    "ctxbudget.session",
    "ctxbudget.testing",
    "ctxbudget.tokenizers",
)


def _imported_after(code: str) -> list[str]:
    """Top-level names of the modules in sys.modules after running ``code`` in a fresh
    interpreter."""
    script = (
        f"{code}\nimport sys, json\n"
        "print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_import_ctxbudget_imports_no_heavy_stack() -> None:
    """`import ctxbudget` imports none of pydantic(-settings), typer, rich, Jinja2, PyYAML,
    redis, tiktoken, the Hugging Face stacks, langchain or asyncio."""
    loaded = set(_imported_after("import ctxbudget"))
    assert sorted(loaded & set(HEAVY)) == []


def test_import_ctxbudget_imports_only_its_base() -> None:
    """`import ctxbudget` runs the errors, the version and the lazy-export table, nothing
    else of ctxbudget."""
    script = (
        "import sys, ctxbudget\nprint(sorted(m for m in sys.modules if m.startswith('ctxbudget')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == str(
        ["ctxbudget", "ctxbudget._errors", "ctxbudget._lazy", "ctxbudget._version"]
    )


def test_every_public_name_resolves_in_a_fresh_process() -> None:
    """`from ctxbudget import <name>` works for every name in __all__, in a new interpreter."""
    names = ", ".join(ctxbudget.__all__)
    script = f"from ctxbudget import {names}\nprint('ok')"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "ok"


def test_the_cli_module_and_a_plain_command_import_no_rich_nor_the_session_budget() -> None:
    """Importing the command line leaves Rich, pydantic and the builder for the commands."""
    loaded = set(_imported_after("import ctxbudget.cli"))
    assert sorted(loaded & {"rich", "pydantic", "pydantic_settings", "jinja2", "yaml"}) == []
    assert "typer" in loaded


def test_build_does_not_import_the_session_budget_nor_langchain() -> None:
    """A build needs neither pydantic-settings, the ledgers' drivers nor the integrations."""
    loaded = set(
        _imported_after(
            "from ctxbudget import build_context\nbuild_context({'facts': 'x'}, max_tokens=50)"
        )
    )
    assert sorted(loaded & {"pydantic_settings", "redis", "langchain_core", "typer"}) == []


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_exports_match_the_type_checking_imports(package: str) -> None:
    """Each lazy package's table of exports is exactly its `if TYPE_CHECKING:` imports, and
    every name in __all__ is in one of them or imported eagerly."""
    module = importlib.import_module(package)
    path = Path(module.__file__ or "")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typed: dict[str, str] = {}
    eager: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for child in node.body:
                assert isinstance(child, ast.ImportFrom)
                for alias in child.names:
                    typed[alias.name] = "." * child.level + (child.module or "")
        elif isinstance(node, ast.ImportFrom):
            eager.update(alias.asname or alias.name for alias in node.names)
    table = {name: mod for mod, names in module._EXPORTS.items() for name in names}
    assert table == typed
    assert set(module.__all__) <= set(table) | eager
    assert set(module.__all__) <= set(dir(module))


def test_unknown_attribute_is_an_attribute_error() -> None:
    """A name no package exports raises AttributeError with the usual message."""
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = ctxbudget.nope  # type: ignore[attr-defined]
    context = importlib.import_module("ctxbudget.context")
    with pytest.raises(AttributeError, match=r"'ctxbudget\.context' has no attribute 'nope'"):
        _ = context.nope


def test_offline_load_is_the_encoding_tiktoken_registers() -> None:
    """In a fresh process, get_tokenizer's encodings are the ones tiktoken.get_encoding then
    returns, with tiktoken's own regex and special tokens (o200k_harmony's included)."""
    script = """
import tiktoken
from ctxbudget import get_tokenizer
for name in ("o200k_base", "cl100k_base", "o200k_harmony"):
    tok = get_tokenizer(name)
    assert tok.encoding is tiktoken.get_encoding(name), name
base = tiktoken.get_encoding("o200k_base")
assert base.encode("<|endoftext|> hi", allowed_special="all")[0] == 199999
harmony = tiktoken.get_encoding("o200k_harmony")
assert harmony.encode("<|start|>", allowed_special="all") == [200006]
assert harmony._pat_str == base._pat_str
text = "Offline vocabularies: naïve café ☕"
assert base.encode_ordinary(text) == harmony.encode_ordinary(text)
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "ok"
