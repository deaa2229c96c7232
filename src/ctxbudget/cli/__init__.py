"""The ``ctxbudget`` command line: build, count, presets, session.

Exit statuses: 0 done; 1 an unexpected failure (``--debug`` shows its traceback); 2 bad input
(a file, preset, tokenizer, template or option), one ``error: ...`` line on stderr and nothing on
stdout (``--debug`` shows the traceback instead); 3 ``build`` found nothing fit (every section
dropped, failed or empty), a ``warning: ...`` line on stderr.
"""

from __future__ import annotations

from . import _build, _serve, _session
from ._app import app

__all__ = ["app", "main"]

#: The command modules, imported for the commands they register on ``app``.
_COMMANDS = (_build, _serve, _session)


def main() -> None:
    """Entry point of the ``ctxbudget`` command (also ``python -m ctxbudget.cli``)."""
    app(prog_name="ctxbudget")
