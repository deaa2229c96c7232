"""The public surface changes only on purpose, and optional pieces stay optional."""

from __future__ import annotations

import subprocess
import sys

import ctxbudget

PUBLIC = {
    "ArchiveError",
    "ConfigurationError",
    "SectionOptions",
    "history_items",
    "repair_messages",
    "RepairedMessages",
    "BudgetManager",
    "Allocation",
    "utilization_report",
    "utilization_band",
    "adjusted_preset_yaml",
    "adjust_allocations",
    "UsageTracker",
    "SectionUsage",
    "budget_indicator",
    "Compactor",
    "Compaction",
    "CompactionStep",
    "Summarizer",
    "MergingSummarizer",
    "SummaryState",
    "merge_summary",
    "LLMSummarizer",
    "ExtractiveSummarizer",
    "archive_from_url",
    "SQLiteArchive",
    "MemoryArchive",
    "MemoryItem",
    "ComponentMemory",
    "ArchivedBlock",
    "Archive",
    "ApproxTokenizer",
    "AsyncMemoryStore",
    "BudgetError",
    "BudgetEvent",
    "BudgetExhausted",
    "BudgetSettings",
    "BudgetStatus",
    "BuiltContext",
    "Content",
    "ContextBuilder",
    "ContextWindow",
    "CountCache",
    "CtxBudgetError",
    "DEFAULT_TEMPLATE",
    "FittedMessages",
    "Forecast",
    "HFTokenizer",
    "Keep",
    "Ledger",
    "LedgerError",
    "MemoryStore",
    "Preset",
    "PresetError",
    "Quota",
    "RequiredSectionsExceedCap",
    "Reservation",
    "ReservationError",
    "Section",
    "SectionError",
    "SectionReport",
    "SectionSpec",
    "SessionBudget",
    "Split",
    "Status",
    "StoreError",
    "Strategy",
    "TemplateError",
    "TiktokenTokenizer",
    "Tokenizer",
    "TokenizerError",
    "__version__",
    "aguard",
    "allocate",
    "build_context",
    "count_prompt",
    "fit_messages",
    "get_tokenizer",
    "guard",
    "ledger_from_url",
    "list_presets",
    "list_tokenizers",
    "load_preset",
    "load_sections",
    "message_tokens",
}


def test_all_lists_exactly_the_public_names() -> None:
    """__all__ is the agreed surface, and every name in it exists."""
    assert set(ctxbudget.__all__) == PUBLIC
    for name in ctxbudget.__all__:
        assert hasattr(ctxbudget, name), name
    # pytest >= 9.2 rewrites the asserts of a package that ships a pytest11 plugin (ours:
    # ctxbudget.testing.pytest_plugin), adding "@py_builtins" and "@pytest_ar" to its
    # namespace; they are not identifiers and never public.
    public_attrs = {n for n in vars(ctxbudget) if not n.startswith("_") and n.isidentifier()}
    modules = {
        "typing",
        "testing",
        "cli",
        "integrations",
        "context",
        "tokenizers",
        "session",
        "messages",
        "memory",
        "agents",
        "models",
    }
    assert public_attrs - modules - PUBLIC == set()


def test_errors_share_one_base() -> None:
    """Every error the library raises on purpose is a CtxBudgetError."""
    for name in (
        "BudgetError",
        "BudgetExhausted",
        "LedgerError",
        "PresetError",
        "RequiredSectionsExceedCap",
        "ReservationError",
        "SectionError",
        "StoreError",
        "TemplateError",
        "TokenizerError",
    ):
        assert issubclass(getattr(ctxbudget, name), ctxbudget.CtxBudgetError)


def test_import_does_not_pull_optional_or_cli_dependencies() -> None:
    """`import ctxbudget` imports neither redis, opentelemetry, langchain nor the CLI stack."""
    code = (
        "import sys, ctxbudget; "
        "print(sorted(m for m in ('redis', 'opentelemetry', 'langchain', 'typer', 'rich') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_docstring_examples_hold() -> None:
    """The >>> examples in the public docstrings run as written."""
    import doctest

    from ctxbudget import testing
    from ctxbudget.context import _allocation, _builder, _sections
    from ctxbudget.session import _budget
    from ctxbudget.tokenizers import _registry

    for module in (ctxbudget, _allocation, _budget, _builder, _registry, _sections, testing):
        failures, _ = doctest.testmod(module, raise_on_error=False)
        assert failures == 0, module.__name__
