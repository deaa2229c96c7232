"""Tokenizers made from other objects: a plain count callable, a ``transformers`` tokenizer.

Neither imports anything: a ``transformers`` tokenizer is recognised by its methods, so
``transformers`` is never imported unless the caller already did.
"""

from __future__ import annotations

import inspect
import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

from .._errors import TokenizerError
from .._unicode import has_lone_surrogate, replace_lone_surrogates

__all__ = ["CountOnlyTokenizer", "TransformersTokenizer", "callable_name", "is_transformers"]

_serial = itertools.count(1)


def callable_name(fn: object) -> str:
    """A name for the count callable ``fn``: its ``name`` attribute when it is a non-empty str,
    else ``"<module>.<qualified name>"``; a lambda, a local function, a bound method or an
    object without a qualified name gets ``"#<n>"`` appended, a number unique in this process,
    so two of them never share count-cache entries."""
    given = getattr(fn, "name", None)
    if isinstance(given, str) and given:
        return given
    qualname = getattr(fn, "__qualname__", None)
    if not isinstance(qualname, str):
        return f"{type(fn).__qualname__}#{next(_serial)}"
    module = getattr(fn, "__module__", None)
    name = f"{module}.{qualname}" if isinstance(module, str) else qualname
    # a bound method's qualified name is its class's: two objects' methods would share it
    unique = "<" not in qualname and not inspect.ismethod(fn)
    return name if unique else f"{name}#{next(_serial)}"


class CountOnlyTokenizer:
    """A tokenizer that only counts: a callable ``str -> int`` (a provider's count-tokens
    endpoint, another library's counter) used as the measure of every cap.

    It has no ``encode``/``decode``. Everything works with it: the builder measures with counts
    and cuts an oversized item by bisection on counts (exact, about ten counts of the item's
    room), ``fit_messages`` and ``count_prompt`` only count, and the CLI counts.

    Args:
        count: returns the number of tokens of a text (a whole number >= 0).
        name: the name in reports and count-cache keys (default: :func:`callable_name`). Give
            a different name to every counter whose counts differ.
        approximate: ``True`` when the counts only estimate the model's own; reports built
            with this tokenizer then say so.

    Raises:
        TypeError: ``count`` is not callable, or ``name`` is not a non-empty str.

    >>> words = CountOnlyTokenizer(lambda text: len(text.split()), name="words")
    >>> (words.name, words.count("three short words"))
    ('words', 3)
    """

    def __init__(
        self, count: Callable[[str], int], *, name: str | None = None, approximate: bool = False
    ) -> None:
        if not callable(count):
            raise TypeError(f"count must be callable, got {count!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        self._count = count
        self._name = name if name is not None else callable_name(count)
        self.approximate = bool(approximate)

    @property
    def name(self) -> str:
        """The name given, or the callable's."""
        return self._name

    def count(self, text: str) -> int:
        """The callable's count of ``text``.

        Raises:
            TokenizerError: the callable returned something other than a whole number >= 0.
        """
        n = self._count(text)
        try:
            if isinstance(n, bool):
                raise TypeError
            value = operator.index(n)
        except TypeError:
            raise TokenizerError(
                f"the count callable of {self._name!r} returned {n!r}, not a whole number",
                spec=self._name,
            ) from None
        if value < 0:
            raise TokenizerError(
                f"the count callable of {self._name!r} returned {value}, a negative count",
                spec=self._name,
            )
        return value

    def __repr__(self) -> str:
        return f"CountOnlyTokenizer(name={self._name!r})"


def is_transformers(obj: object) -> bool:
    """Whether ``obj`` looks like a ``transformers`` tokenizer (``PreTrainedTokenizerBase``):
    callable ``encode`` and ``decode`` and a ``name_or_path`` attribute."""
    return (
        callable(getattr(obj, "encode", None))
        and callable(getattr(obj, "decode", None))
        and hasattr(obj, "name_or_path")
    )


class TransformersTokenizer:
    """A ``transformers`` tokenizer (``AutoTokenizer.from_pretrained(...)``, fast or slow).

    Counts exclude the special tokens the tokenizer adds around a sequence
    (``add_special_tokens=False``): the cap measures the text itself, as for ``"hf:"``.

    Args:
        tokenizer: a ``transformers.PreTrainedTokenizerBase`` (anything with ``encode(text,
            add_special_tokens=...)``, ``decode(ids, ...)`` and ``name_or_path``).
        name: the name in reports (default ``"transformers:<name_or_path>"``; with an empty
            ``name_or_path``, the class name and a number unique in this process).
    """

    def __init__(self, tokenizer: Any, *, name: str | None = None) -> None:
        self._tokenizer = tokenizer
        path = getattr(tokenizer, "name_or_path", "") or ""
        if name is None:
            name = (
                f"transformers:{path}"
                if path
                else f"transformers:{type(tokenizer).__name__}#{next(_serial)}"
            )
        self._name = name

    @property
    def name(self) -> str:
        """``"transformers:<name_or_path>"``, or the name given."""
        return self._name

    @property
    def tokenizer(self) -> Any:
        """The wrapped ``transformers`` tokenizer."""
        return self._tokenizer

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` (a lone surrogate counts as U+FFFD, as in tiktoken)."""
        return len(self._ids(text))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without special tokens (lone surrogates as U+FFFD)."""
        return list(self._ids(text))

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` (special tokens kept, no clean-up of spaces)."""
        return str(
            self._tokenizer.decode(
                list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
        )

    def _ids(self, text: str) -> Any:
        # verbose=False: no "sequence longer than the model's maximum" log line for long items
        try:
            return self._tokenizer.encode(text, add_special_tokens=False, verbose=False)
        except (TypeError, ValueError, UnicodeError):
            if not has_lone_surrogate(text):
                raise
            fixed = replace_lone_surrogates(text)
            return self._tokenizer.encode(fixed, add_special_tokens=False, verbose=False)

    def __repr__(self) -> str:
        return f"TransformersTokenizer({self._name!r})"
