"""pytest fixtures for code that uses ctxbudget, loaded as the plugin named after this module.

Installing ctxbudget registers this module through the ``pytest11`` entry point, so every
pytest run loads it: importing it imports only pytest and ctxbudget's light base; each fixture
imports what it needs when a test asks for it. Without the entry point (a source checkout that
was not installed), load it with ``pytest -p ctxbudget.testing.pytest_plugin`` or
``pytest_plugins = ["ctxbudget.testing.pytest_plugin"]`` in a top-level conftest.py; either also
works when it is installed (the entry point has the module's name, so pytest sees it loaded).
Turn it off with ``-p no:ctxbudget.testing.pytest_plugin``.

Fixtures (each new per test):

- ``ctxbudget_tokenizer``: a :class:`~ctxbudget.testing.WordTokenizer` (one token per word and
  one per whitespace run; no vocabulary, no download). Override it in a conftest.py to change
  the tokenizer of every fixture below.
- ``ctxbudget_ledger``: an empty :class:`~ctxbudget.session.ledgers.MemoryLedger`, closed at
  teardown.
- ``ctxbudget_budget``: a :class:`~ctxbudget.SessionBudget` over ``ctxbudget_ledger``, counting
  with ``ctxbudget_tokenizer``, with the library's default settings whatever ``CTXBUDGET_*``
  environment variables say (session cap 100,000 tokens); closed at teardown.
- ``ctxbudget_build``: ``build(sections, max_tokens=None, **options) -> BuiltContext``, that is
  :func:`~ctxbudget.build_context` measuring with ``ctxbudget_tokenizer`` unless ``tokenizer=``
  is given; it raises what ``build_context`` raises.
- ``ctxbudget_snapshot``: syrupy's ``snapshot`` with
  :class:`~ctxbudget.testing.syrupy.ContextSnapshotExtension`: ``assert result ==
  ctxbudget_snapshot`` stores :func:`~ctxbudget.testing.render_snapshot`'s text in
  ``__snapshots__/<test module>/<test name>.txt``. Without syrupy, the test errors with
  ``pip install syrupy``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..context import BuiltContext
    from ..session import SessionBudget
    from ..session.ledgers import MemoryLedger
    from ._tokenizers import WordTokenizer

__all__ = [
    "ctxbudget_budget",
    "ctxbudget_build",
    "ctxbudget_ledger",
    "ctxbudget_snapshot",
    "ctxbudget_tokenizer",
]

#: What a test sees when syrupy is missing.
NO_SYRUPY = "ctxbudget_snapshot needs syrupy, which is not installed: pip install syrupy"


@pytest.fixture
def ctxbudget_tokenizer() -> WordTokenizer:
    """A fresh :class:`~ctxbudget.testing.WordTokenizer`: deterministic, offline."""
    from ._tokenizers import WordTokenizer

    return WordTokenizer()


@pytest.fixture
def ctxbudget_ledger() -> Iterator[MemoryLedger]:
    """An empty in-memory ledger, closed at teardown."""
    from ..session.ledgers import MemoryLedger

    ledger = MemoryLedger()
    yield ledger
    ledger.close()


@pytest.fixture
def ctxbudget_budget(
    ctxbudget_ledger: MemoryLedger, ctxbudget_tokenizer: Any
) -> Iterator[SessionBudget]:
    """A :class:`~ctxbudget.SessionBudget` over ``ctxbudget_ledger`` with the library's default
    settings (the environment ignored), closed at teardown."""
    from ..session import BudgetSettings, SessionBudget

    budget = SessionBudget(
        ctxbudget_ledger,
        tokenizer=ctxbudget_tokenizer,
        settings=BudgetSettings.model_construct(),  # the defaults, not CTXBUDGET_* variables
    )
    yield budget
    budget.close()


@pytest.fixture
def ctxbudget_build(ctxbudget_tokenizer: Any) -> Callable[..., BuiltContext]:
    """``build(sections, max_tokens=None, **options)``: :func:`~ctxbudget.build_context` with
    ``tokenizer=ctxbudget_tokenizer`` unless ``options`` give one."""
    from ..context import build_context

    def build(
        sections: Mapping[str, Any] | Any, max_tokens: int | None = None, **options: Any
    ) -> BuiltContext:
        options.setdefault("tokenizer", ctxbudget_tokenizer)
        return build_context(sections, max_tokens=max_tokens, **options)

    return build


@pytest.fixture
def ctxbudget_snapshot(request: pytest.FixtureRequest) -> Any:
    """syrupy's ``snapshot`` using :class:`~ctxbudget.testing.syrupy.ContextSnapshotExtension`.

    Fails the test's setup with :data:`NO_SYRUPY` when syrupy is not installed, or with a
    message naming ``-p no:syrupy`` when its plugin is not loaded.
    """
    try:
        from .syrupy import ContextSnapshotExtension
    except ImportError:
        pytest.fail(NO_SYRUPY, pytrace=False)
    if not request.config.pluginmanager.has_plugin("syrupy"):
        pytest.fail(
            "ctxbudget_snapshot needs syrupy's pytest plugin, which is not loaded "
            "(was it turned off with -p no:syrupy?)",
            pytrace=False,
        )
    return request.getfixturevalue("snapshot").use_extension(ContextSnapshotExtension)
