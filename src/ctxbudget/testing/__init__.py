"""Helpers for testing code that uses ctxbudget.

- :class:`CharTokenizer`, :class:`WordTokenizer`: deterministic tokenizers with no vocabulary.
- :func:`render_snapshot`: the stable text of a :class:`~ctxbudget.BuiltContext` or of a
  :class:`CompactorRequest` (its assembled text and a compact allocation table), for any
  snapshot tool; :func:`compactor_step` records one :meth:`~ctxbudget.Compactor.step` as a
  :class:`CompactorRequest`.
- :mod:`ctxbudget.testing.syrupy`: syrupy extensions that store that text.
- :mod:`ctxbudget.testing.pytest_plugin`: pytest fixtures (``ctxbudget_tokenizer``,
  ``ctxbudget_ledger``, ``ctxbudget_budget``, ``ctxbudget_build``, ``ctxbudget_snapshot``),
  registered through the ``pytest11`` entry point.

Importing this package imports only the tokenizers; the rest loads on first use.

>>> from ctxbudget.testing import CharTokenizer
>>> CharTokenizer().count("héllo")
5
"""

from typing import TYPE_CHECKING

from .. import _lazy
from ._tokenizers import CharTokenizer, WordTokenizer

if TYPE_CHECKING:
    from ._render import CompactorRequest, compactor_step, render_snapshot

__all__ = [
    "CharTokenizer",
    "CompactorRequest",
    "WordTokenizer",
    "compactor_step",
    "render_snapshot",
]

#: Module -> the names it defines that this package re-exports, imported on first use.
_EXPORTS = {"._render": ("CompactorRequest", "compactor_step", "render_snapshot")}
__getattr__, __dir__ = _lazy.attach(__name__, _EXPORTS, globals())
