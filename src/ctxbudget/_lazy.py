"""Lazy re-exports for the package ``__init__`` modules (PEP 562 module ``__getattr__``).

A package names, for each of its modules, the public names it re-exports; ``import ctxbudget``
(or ``import ctxbudget.context``) then imports none of those modules, and the first access to
a name (``from ctxbudget import build_context``, ``ctxbudget.SessionBudget``) imports the one
module that defines it, and what that module needs, and keeps the value in the package's
namespace so later accesses cost nothing. This keeps ``import ctxbudget`` free of pydantic,
Jinja2, PyYAML, tiktoken, redis and the command-line stack until something needs them.

Each package also imports the same names under ``if TYPE_CHECKING:``, for type checkers and
readers; ``tests/test_startup.py`` checks that the two lists agree.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, exports: Mapping[str, Iterable[str]], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of a package with lazy re-exports.

    Args:
        package: the package's ``__name__``.
        exports: relative module name (``"._builder"``, ``".context"``) -> the names it
            defines that the package re-exports.
        namespace: the package's ``globals()``, where a name is kept once it is imported.

    Returns:
        ``(__getattr__, __dir__)``. ``__getattr__(name)`` imports the module of ``name`` and
        returns its value, or raises :class:`AttributeError` (the usual message) for a name
        the package does not export; ``__dir__()`` lists the namespace and every export.

    >>> getattr_, dir_ = attach("json", {".decoder": ["JSONDecodeError"]}, {})
    >>> getattr_("JSONDecodeError").__name__
    'JSONDecodeError'
    """
    where = {name: module for module, names in exports.items() for name in names}

    def module_getattr(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def module_dir() -> list[str]:
        return sorted({*namespace, *where})

    return module_getattr, module_dir
