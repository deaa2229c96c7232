"""``python -m ctxbudget.cli``: the ``ctxbudget`` command, run by this interpreter."""

from . import main

main()
