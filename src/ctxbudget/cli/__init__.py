"""The ``ctxbudget`` command line: build, count, presets, session.

Exit statuses: 0 done; 1 an unexpected failure, one line ``error: unexpected Type: message (run
with --debug for the traceback)`` on stderr (``--debug`` shows the traceback instead); 2 bad
input (a file, preset, tokenizer, template or option), one ``error: ...`` line on stderr and
nothing on stdout (``--debug`` shows the traceback instead); 3 ``build`` kept no section's content
(every section dropped, failed or empty), a ``warning: ...`` line on stderr.

A mistyped command line (an unknown option, a missing argument, a value of the wrong type) is
also one line, naming the option and the value given, e.g. ``error: invalid value 'abc' for
'--max-tokens' / '-n': not a valid integer (see 'ctxbudget build --help')``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from . import _build, _serve, _session
from ._app import _state, app, shown

__all__ = ["app", "main"]

#: The command modules, imported for the commands they register on ``app``.
_COMMANDS = (_build, _serve, _session)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``ctxbudget`` command (also ``python -m ctxbudget.cli``).

    Args:
        argv: the arguments after the program name (default ``sys.argv[1:]``).

    Raises:
        SystemExit: always, with the exit status above.
    """
    import typer

    # typer >= 0.26 vendors click as typer._click, older typer uses click: take the classes
    # from typer's public BadParameter, whichever it is.
    usage_error, click_exception = (
        _base_named(typer.BadParameter, name) for name in ("UsageError", "ClickException")
    )
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = app(args=args, prog_name="ctxbudget", standalone_mode=False)
    except usage_error as caught:
        exc: Any = caught  # a click UsageError: show(), exit_code, format_message(), ctx
        if type(exc).__name__ == "NoArgsIsHelpError":  # no arguments: show the help
            exc.show()
            sys.exit(exc.exit_code)
        print(f"error: {shown(_usage_message(exc, args))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click_exception as caught:
        exc = caught
        print(f"error: {shown(' '.join(exc.format_message().split()))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except Exception as caught:  # a bug, or a failure no command turned into a one-line error
        if _state["debug"] or _debug_asked(args):
            raise
        message = " ".join(str(caught).split())
        print(
            f"error: unexpected {type(caught).__name__}: {shown(message)} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)


def _debug_asked(args: list[str]) -> bool:
    """Whether ``--debug`` is among the root options of ``args`` (before the command name):
    the root callback, which sets it, may not have run when the failure came."""
    for arg in args:
        if arg == "--debug":
            return True
        if not arg.startswith("-"):
            return False
    return False


def _base_named(cls: type[BaseException], name: str) -> type[Exception]:
    """The class called ``name`` among ``cls`` and its bases."""
    return next(c for c in cls.__mro__ if c.__name__ == name and issubclass(c, Exception))


#: typer checks option values through pydantic, whose wording names no value; ours does.
_PYDANTIC_WORDS = {
    "Input should be a valid integer, unable to parse string as an integer": "not a whole number",
    "Input should be a valid number, unable to parse string as a number": "not a number",
}


def _usage_message(exc: Any, args: list[str]) -> str:
    """One line for a command-line mistake: what was wrong, the value given, where help is."""
    message = " ".join(exc.format_message().split())
    param, ctx = getattr(exc, "param", None), exc.ctx
    if type(exc).__name__ == "BadParameter" and param is not None:
        value = _given(param, args)
        hint = exc.param_hint or " / ".join(repr(o) for o in param.opts) or param.name
        reason = message.split(": ", 1)[-1] if message.startswith("Invalid value") else message
        reason = _PYDANTIC_WORDS.get(reason, reason)
        if value is not None:
            message = f"invalid value {value!r} for {hint}: {reason}"
    where = ctx.command_path if ctx is not None else _command_path(args)
    return f"{message} (see '{where} --help')"


def _command_path(args: list[str]) -> str:
    """``ctxbudget`` and the command names at the start of ``args`` (``build``,
    ``presets show``...), after any root options: where help is when click gives no context."""
    import typer.main

    command: Any = typer.main.get_command(app)
    path = ["ctxbudget"]
    for arg in args:
        if arg.startswith("-"):
            if path == ["ctxbudget"]:
                continue  # a root option (--debug)
            break
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            break
        path.append(arg)
        command = sub
    return " ".join(path)


def _given(param: Any, args: list[str]) -> str | None:
    """The value given on the command line for option ``param`` (its last occurrence)."""
    opts = getattr(param, "opts", []) + getattr(param, "secondary_opts", [])
    found = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        for opt in opts:
            if arg == opt and i + 1 < len(args):
                found = args[i + 1]
            elif opt.startswith("--") and arg.startswith(opt + "="):
                found = arg[len(opt) + 1 :]
            elif not opt.startswith("--") and arg.startswith(opt) and len(arg) > len(opt):
                found = arg[len(opt) :]
    return found
