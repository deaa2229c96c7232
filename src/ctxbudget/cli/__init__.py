"""The ``ctxbudget`` command line: build, count, presets, session.

Errors print one line, ``error: ...``, to stderr and exit with status 2 (``--debug`` shows the
traceback instead).
"""

from __future__ import annotations

from . import _build, _serve, _session
from ._app import app

__all__ = ["app", "main"]

#: The command modules, imported for the commands they register on ``app``.
_COMMANDS = (_build, _serve, _session)


def main() -> None:
    """Entry point of the ``ctxbudget`` command."""
    app()
