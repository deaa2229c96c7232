"""Each framework adapter names its extra when its library is missing, and `import
ctxbudget` imports none of them."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: adapter module -> (the library it imports, the extra that installs it)
ADAPTERS = {
    "langchain": ("langchain_core", "langchain"),
    "langchain_agents": ("langchain", "langchain"),
    "langgraph": ("langgraph", "langgraph"),
    "llamaindex": ("llama_index", "llamaindex"),
    "litellm": ("litellm", "litellm"),
    "pydantic_ai": ("pydantic_ai", "pydantic-ai"),
}


@pytest.mark.parametrize("module", sorted(ADAPTERS))
def test_a_missing_library_names_the_extra(module: str) -> None:
    """With the library made unimportable, importing the adapter raises CtxBudgetError whose
    message says which `pip install 'ctxbudget[...]'` to run."""
    library, extra = ADAPTERS[module]
    code = (
        "import sys\n"
        f"sys.modules[{library!r}] = None\n"
        "from ctxbudget import CtxBudgetError\n"
        "try:\n"
        f"    import ctxbudget.integrations.{module}\n"
        "except CtxBudgetError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f"pip install 'ctxbudget[{extra}]'" in done.stdout


def test_import_ctxbudget_imports_no_framework() -> None:
    """`import ctxbudget` leaves every framework unloaded."""
    code = (
        "import sys, ctxbudget\n"
        "print(sorted({m.partition('.')[0] for m in sys.modules} & set("
        f"{sorted({lib for lib, _ in ADAPTERS.values()})!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
