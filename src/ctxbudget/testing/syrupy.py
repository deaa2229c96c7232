"""syrupy extensions that snapshot a build or a compactor's request as reviewable text.

Both store :func:`~ctxbudget.testing.render_snapshot`'s text (the assembled text plus a compact
allocation table), so a snapshot diff in review shows what the prompt lost and why:

- :class:`ContextSnapshotExtension`: one plain ``.txt`` file per snapshot, in
  ``__snapshots__/<test module>/<test name>.txt``: the text exactly, nothing around it.
- :class:`AmberContextSnapshotExtension`: syrupy's usual ``.ambr`` file per test module, the
  text stored as an amber string.

>>> from ctxbudget.testing.syrupy import ContextSnapshotExtension
>>> def test_prompt(snapshot):                                       # doctest: +SKIP
...     result = build_context(sections, max_tokens=200, tokenizer=WordTokenizer())
...     assert result == snapshot.use_extension(ContextSnapshotExtension)

With the pytest plugin, the ``ctxbudget_snapshot`` fixture is that ``snapshot``. Data of
another type raises :class:`TypeError` naming it, when the assertion serializes it.

Importing this module needs syrupy (``pip install syrupy``); ``import ctxbudget`` never
imports it.
"""

from __future__ import annotations

from typing import Any

from syrupy.extensions.amber import AmberSnapshotExtension
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from ._render import render_snapshot

__all__ = ["AmberContextSnapshotExtension", "ContextSnapshotExtension"]


class ContextSnapshotExtension(SingleFileSnapshotExtension):
    """A :class:`~ctxbudget.BuiltContext` or :class:`~ctxbudget.testing.CompactorRequest`
    as a ``.txt`` file holding :func:`~ctxbudget.testing.render_snapshot`'s text (UTF-8, ``\\n``
    line endings).

    Raises (from the assertion):
        TypeError: the data is of another type.
    """

    file_extension = "txt"
    _file_extension = "txt"  # the name syrupy 4.0 read
    _write_mode = WriteMode.TEXT

    def serialize(self, data: Any, **kwargs: Any) -> str:
        """:func:`~ctxbudget.testing.render_snapshot` of ``data`` (syrupy's ``exclude``,
        ``include`` and ``matcher`` do not apply to this text and are ignored)."""
        return render_snapshot(data)


class AmberContextSnapshotExtension(AmberSnapshotExtension):
    """The same text kept in the test module's ``.ambr`` file, beside other snapshots.

    Raises (from the assertion):
        TypeError: the data is of another type.
    """

    def serialize(self, data: Any, **kwargs: Any) -> str:
        """:func:`~ctxbudget.testing.render_snapshot` of ``data``, stored as an amber string
        (syrupy's ``exclude``, ``include`` and ``matcher`` are ignored)."""
        text: str = self.serializer_class.serialize(render_snapshot(data))
        return text
