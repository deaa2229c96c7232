"""The layout's promises: one home per concept, subpackage surfaces locked, no import cycle,
one chat-message rule, tokenizers resolved once, options declared once, types shipped."""

from __future__ import annotations

import ast
import importlib
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import ctxbudget
from ctxbudget import (
    ConfigurationError,
    ContextBuilder,
    Section,
    SectionError,
    count_prompt,
    fit_messages,
    get_tokenizer,
)
from ctxbudget.context import SectionOptions

SRC = Path(__file__).resolve().parents[1] / "src" / "ctxbudget"

#: Each subpackage's public surface; it changes only on purpose.
SURFACES = {
    "ctxbudget.context": {
        "DEFAULT_TEMPLATE", "INDICATOR", "BuiltContext", "ContextBuilder", "Cut", "Keep",
        "MeasuredSection", "Preset", "Section", "SectionOptions", "SectionReport", "SectionSpec",
        "SectionView", "Split", "Status", "Strategy", "Template", "allocate", "budget_indicator",
        "build_context", "default_title", "list_presets", "load_preset", "load_sections",
        "priority_order",
    },
    "ctxbudget.tokenizers": {
        "PROXIES", "AnthropicTokenCounter", "ApproxTokenizer", "CachedTokenizer", "CountCache",
        "CountOnlyTokenizer", "GeminiTokenCounter", "HFTokenizer", "Proxy", "ProxyTokenizer",
        "TiktokenTokenizer", "TransformersTokenizer", "get_tokenizer", "list_tokenizers",
        "truncate",
    },
    "ctxbudget.session": {
        "AsyncReservation", "ChildBudget",
        "DEFAULT_PRICES", "MAX_TOKENS", "SYSTEM_SESSION", "BudgetEvent", "BudgetSettings",
        "BudgetStatus", "CalibratedTokenizer", "Calibration", "ContextWindow", "EventName",
        "Forecast", "Ledger", "Quota", "Reservation", "SessionBudget", "State", "Usage",
        "aguard", "estimate_cost", "guard", "ledger_from_url", "usage_of",
    },
    "ctxbudget.models": {
        "CATALOGUE_ENV", "LITELLM_ENV", "Catalogue", "LongContextPrices", "ModelInfo",
        "bundled_catalogue", "cap_for", "default_catalogue", "get_model", "load_catalogue",
        "window_for",
    },
    "ctxbudget.session.ledgers": {
        "Clock", "Expired", "Hold", "Ledger", "Limit", "MemoryLedger", "ReserveOutcome",
        "RowLedger", "Rows", "SQLiteLedger", "ScopeRecord", "SettleOutcome", "ledger_from_url",
        "ledger_schemes",
    },
    "ctxbudget.messages": {
        "FORMATS", "REPLY_PRIMING", "TOKENS_PER_MESSAGE", "TOKENS_PER_NAME",
        "TOKENS_PER_TOOL_CALL", "FittedMessages", "HistoryItems", "Message", "MessageFormat",
        "Prompt", "RepairedMessages", "count_prompt", "detect_format", "fit_messages",
        "get_format", "group_turns", "history_items", "message_text", "message_tokens",
        "repair_messages",
    },
    "ctxbudget.memory": {
        "REDUCERS", "TRUNCATED_MARKER", "Archive", "ArchivedBlock", "ExtractiveSummarizer",
        "LLMSummarizer", "MemoryArchive", "Reducer", "Reduction", "SQLiteArchive",
        "MemoryItem", "parse_items",
        "SummaryState", "archive_from_url", "check_reducer_spec", "dedupe", "evict_older_than",
        "from_json_data", "keep_summary_only", "merge_summary", "reducer_from_spec",
        "summarize_oldest", "to_json_data",
    },
    "ctxbudget.agents": {
        "Allocation", "BudgetManager", "Compaction", "CompactionStep", "Compactor", "SectionUsage",
        "UsageTracker", "adjust_allocations", "adjusted_preset_yaml", "utilization_band",
        "utilization_report",
        # component budgets (issue 14): report, targets, adaptation, prediction
        "DEFAULT_NEEDS", "DEFAULT_TARGETS", "OVERALL_TARGET", "AdaptiveBuilder",
        "ComplexityWeights", "ComponentError", "ComponentUtilization", "FreesTokens",
        "PredictionErrorReport", "PredictiveManager", "Preparation", "TargetBand", "Task",
        "UtilizationReport", "complexity", "complexity_score", "fair_shares",
        "CleanupAction", "CleanupContext", "CleanupPipeline", "CleanupResult", "CleanupStep",
        "ComponentMemory",
        "archived_items", "cleanup_pipeline", "pipeline_from_spec", "preset_pipelines",
    },
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(SURFACES))
def test_each_subpackage_all_is_its_agreed_surface(module: str) -> None:
    """A subpackage's __all__ is exactly its agreed names, and every name exists."""
    mod = importlib.import_module(module)
    assert set(mod.__all__) == SURFACES[module]
    for name in mod.__all__:
        assert hasattr(mod, name), name


def _imports(path: Path) -> set[str]:
    """Modules of ctxbudget that ``path`` imports at run time (lazy imports inside functions
    included, ``if TYPE_CHECKING:`` imports not)."""
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.removesuffix(".__init__")
    else:
        package = package.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue  # annotations only: not imported at run time
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.startswith("ctxbudget"):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ctxbudget"))
    return found


def _module_graph() -> dict[str, set[str]]:
    modules = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imports(path) if m in modules and m != name}
    return graph


def test_no_import_cycle_between_modules() -> None:
    """No module imports itself through others, lazy imports included (packages' __init__
    re-exports excluded: they only gather names)."""
    graph = _module_graph()
    inits = {n for n in graph if (SRC.parent / n.replace(".", "/") / "__init__.py").exists()}

    def edges(name: str) -> set[str]:
        return {m for m in graph[name] if m not in inits}

    state: dict[str, int] = {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for nxt in edges(name):
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join([*stack, name, nxt]))
            if nxt not in state:
                visit(nxt, [*stack, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in inits and name not in state:
            visit(name, [])


#: Which product may import which: the core never reaches up into the agent-loop tools, the
#: session budget or the command line.
LAYERS = {
    "models": {"models"},
    "tokenizers": {"tokenizers"},
    "memory": {"memory", "tokenizers"},
    "messages": {"messages", "models", "tokenizers"},
    "context": {"context", "memory", "models", "tokenizers"},
    "session": {"session", "messages", "models", "tokenizers"},
    "agents": {"agents", "context", "memory", "messages", "models", "session", "tokenizers"},
    "server": {"server", "session"},
}


@pytest.mark.parametrize("product", sorted(LAYERS))
def test_products_import_only_the_layers_below_them(product: str) -> None:
    """Each subpackage imports only itself, the layers beneath it and the shared base."""
    for name, targets in _module_graph().items():
        if not name.startswith(f"ctxbudget.{product}"):
            continue
        for target in targets:
            parts = target.split(".")
            if len(parts) < 2 or parts[1].startswith("_") or parts[1] == "typing":
                continue  # the shared base: errors, validation, sandbox, version, protocols
            assert parts[1] in LAYERS[product], f"{name} imports {target}"


def test_no_module_is_over_about_400_lines() -> None:
    """Every source module stays readable in one sitting (~400 lines, docstrings included)."""
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 410
    }
    assert long == {}


# -- one chat-message rule ------------------------------------------------------------------


def _with_tool_calls(conversation: list[dict[str, str]], rng: random.Random) -> list[Any]:
    out: list[Any] = []
    for i, message in enumerate(conversation):
        out.append(message)
        if message["role"] == "user" and rng.random() < 0.3:
            calls = [
                {
                    "id": f"c{i}-{k}",
                    "type": "function",
                    "function": {"name": "search", "arguments": f'{{"n": {i}}}'},
                }
                for k in range(rng.randint(1, 3))
            ]  # fmt: skip
            out.append({"role": "assistant", "content": None, "tool_calls": calls})
            out += [
                {"role": "tool", "tool_call_id": c["id"], "content": f"result {c['id']}"}
                for c in calls
            ]
    return out


@pytest.mark.data
def test_count_prompt_equals_fit_messages_on_real_conversations_with_tool_calls(
    shared_data: Path,
) -> None:
    """guard reserves what fit_messages counts: one rule, on 300 real conversations."""
    from benchmarks import corpus

    rng = random.Random(7)
    for conversation in corpus.conversations()[:300]:
        messages = _with_tool_calls(conversation, rng)
        fitted = fit_messages(messages, 10**9)
        assert fitted.dropped == []
        assert count_prompt(messages) == fitted.tokens


# -- tokenizers resolved once -----------------------------------------------------------------


def test_raw_tokenizers_object_resolves_to_one_cached_wrapper(hf_tokenizer_json: Path) -> None:
    """A tokenizers.Tokenizer object is wrapped (and hashed) once, then reused."""
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(hf_tokenizer_json))
    first = get_tokenizer(raw)
    assert get_tokenizer(raw) is first
    assert first.name.startswith("hf:sha256=")


def test_protocol_check_runs_once_per_type_not_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's tokenizer object is checked against the protocol once for its type; the hot
    paths (fit_messages, the Compactor) resolve it again for free."""
    import ctxbudget.tokenizers._registry as registry

    checks: list[object] = []
    protocol = registry.Tokenizer

    class Counting(type):
        def __instancecheck__(cls, obj: object) -> bool:
            checks.append(obj)
            return isinstance(obj, protocol)

    class CountingTokenizer(metaclass=Counting):
        pass

    monkeypatch.setattr(registry, "Tokenizer", CountingTokenizer)

    class Chars:
        name = "chars"

        def count(self, text: str) -> int:
            return len(text)

        def encode(self, text: str) -> list[int]:
            return [ord(c) for c in text]

        def decode(self, ids: list[int]) -> str:
            return "".join(map(chr, ids))

    first, second = Chars(), Chars()
    for _ in range(100):
        assert get_tokenizer(first) is first
        assert get_tokenizer(second) is second
    assert checks == [first]
    with pytest.raises(ctxbudget.TokenizerError):
        get_tokenizer(object())


def test_fit_messages_with_a_raw_tokenizer_matches_its_path(hf_tokenizer_json: Path) -> None:
    """fit_messages with a raw tokenizers.Tokenizer keeps what "hf:<path>" keeps, at the same
    count (its speed is measured in benchmarks/tokenizer_objects.py)."""
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(hf_tokenizer_json))
    messages = [{"role": "user", "content": f"message {i} " * 5} for i in range(200)]
    by_path = fit_messages(messages, 500, tokenizer=f"hf:{hf_tokenizer_json}")
    by_object = fit_messages(messages, 500, tokenizer=raw)
    assert 0 < len(by_path.messages) < len(messages)
    assert (by_object.tokens, by_object.messages) == (by_path.tokens, by_path.messages)


# -- options declared once --------------------------------------------------------------------


def test_every_place_options_are_given_accepts_the_same_options(tmp_path: Path) -> None:
    """Section, register(), presets and front matter take exactly SectionOptions' fields."""
    from ctxbudget import load_preset, load_sections

    fields = set(SectionOptions.model_fields)
    assert fields == {
        "weight", "min_tokens", "max_tokens", "required", "keep", "split", "title", "reducers",
    }  # fmt: skip
    Section(name="a", content="x", reducers=["dedupe"])
    ContextBuilder().register(_Store(), reducers=["dedupe"], weight=2)
    preset = tmp_path / "p.yaml"
    preset.write_text("sections:\n  a:\n    reducers: [dedupe]\n    weight: 1\n")
    assert load_preset(preset).spec("a").reducers == ["dedupe"]
    memo = tmp_path / "a.md"
    memo.write_text("---\nreducers: [dedupe]\nweight: 2\n---\nx\n")
    assert load_sections([memo])[0].reducers == ["dedupe"]


def test_register_rejects_bad_options_naming_the_store() -> None:
    """register() validates options like Section does, naming the section and the option."""
    with pytest.raises(SectionError, match=r"'notes'.*weight"):
        ContextBuilder().register(_Store(), weight=-1)
    with pytest.raises(SectionError, match="unknown reducer 'shrink'"):
        ContextBuilder().register(_Store(), reducers=["shrink"])
    with pytest.raises(SectionError, match=r"^section 'notes': min_tokens \(10\) > max_tokens"):
        ContextBuilder().register(_Store(), min_tokens=10, max_tokens=5)


class _Store:
    name = "notes"

    def fetch(self) -> str:
        return "x"


# -- errors -------------------------------------------------------------------------------------


def test_configuration_errors_are_value_errors_and_not_cap_errors() -> None:
    """Bad arguments raise ConfigurationError (a ValueError), never the cap error."""
    with pytest.raises(ConfigurationError) as info:
        fit_messages([{"role": "user", "content": "hi"}], -1)
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, ctxbudget.BudgetError)
    assert issubclass(ctxbudget.SectionError, ConfigurationError)
    assert issubclass(ctxbudget.PresetError, ConfigurationError)
    assert issubclass(ctxbudget.RequiredSectionsExceedCap, ctxbudget.BudgetError)
    assert issubclass(ctxbudget.BudgetExhausted, ctxbudget.BudgetError)
    assert not issubclass(ctxbudget.ReservationError, ctxbudget.BudgetError)


# -- packaging ----------------------------------------------------------------------------------


def test_a_users_strict_mypy_sees_ctxbudget_types(tmp_path: Path) -> None:
    """py.typed ships: a user's `mypy --strict` type-checks calls into ctxbudget (and catches
    a wrong one)."""
    good = tmp_path / "good.py"
    good.write_text(
        "from ctxbudget import build_context\n"
        "result = build_context({'facts': 'x'}, max_tokens=10)\n"
        "tokens: int = result.tokens\n"
    )
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from ctxbudget import build_context\n"
        "result = build_context({'facts': 'x'}, max_tokens=10)\n"
        "tokens: str = result.tokens\n"
    )
    env = {**os.environ, "MYPYPATH": ""}

    def mypy(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(path)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            check=False,
        )

    ok = mypy(good)
    assert ok.returncode == 0, ok.stdout
    wrong = mypy(bad)
    assert wrong.returncode == 1
    assert "Incompatible types in assignment" in wrong.stdout


def test_one_version_source() -> None:
    """The package version is the one pyproject.toml reads (src/ctxbudget/_version.py)."""
    from importlib.metadata import version

    assert ctxbudget.__version__ == version("ctxbudget")
    pyproject = (SRC.parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in pyproject
    assert "LICENSE" in pyproject
    assert (SRC.parents[1] / "LICENSE").is_file()
    assert (SRC / "py.typed").is_file()


def test_closing_releases_connections_without_resource_warnings(tmp_path: Path) -> None:
    """SessionBudget and archives are context managers that close their SQLite connections:
    no ResourceWarning, even where Python 3.13 reports unclosed connections."""
    code = (
        "import gc, warnings, sys\n"
        "warnings.simplefilter('error')\n"
        "from ctxbudget import SessionBudget, archive_from_url\n"
        f"with SessionBudget('sqlite:///{tmp_path}/b.db', session_cap=10) as b:\n"
        "    b.reserve(5, session='s').rollback()\n"
        f"with archive_from_url('sqlite:///{tmp_path}/a.db') as a:\n"
        "    a.put(['x'], tokens=1)\n"
        "gc.collect()\n"
    )
    out = subprocess.run(
        [sys.executable, "-X", "dev", "-c", code], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "ResourceWarning" not in out.stderr


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1))
def test_scope_id_escaping_round_trips_and_never_leaks_a_separator(value: str) -> None:
    """Escaped ids contain no ':' or '@', and unescaping gives the id back exactly."""
    from ctxbudget.session._scopes import escape_id, unescape_id

    escaped = escape_id(value)
    assert ":" not in escaped
    assert "@" not in escaped
    assert unescape_id(escaped) == value
