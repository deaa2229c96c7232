"""Hugging Face tokenizers (``tokenizer.json``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._unicode import has_lone_surrogate, replace_lone_surrogates

__all__ = ["HFTokenizer"]


class HFTokenizer:
    """A Hugging Face ``tokenizers.Tokenizer`` (from a ``tokenizer.json``).

    Counts exclude special tokens added by the post-processor (``add_special_tokens=False``):
    the cap measures the text itself.

    Args:
        tokenizer: a ``tokenizers.Tokenizer``.
        name: the name used in reports, e.g. ``"hf:/path/tokenizer.json"``.
    """

    byte_level = False

    def __init__(self, tokenizer: Any, name: str) -> None:
        self._tokenizer = tokenizer
        self._name = name

    @property
    def name(self) -> str:
        """The name given at construction."""
        return self._name

    def count(self, text: str) -> int:
        """Number of tokens in ``text`` (a lone surrogate counts as U+FFFD, as in tiktoken)."""
        return len(self._ids(text))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without special tokens (lone surrogates as U+FFFD)."""
        return list(self._ids(text))

    def _ids(self, text: str) -> Any:
        try:
            return self._tokenizer.encode(text, add_special_tokens=False).ids
        except TypeError:
            if not has_lone_surrogate(text):
                raise
            # tokenizers refuses text that is not valid Unicode: the one policy of _unicode
            fixed = replace_lone_surrogates(text)
            return self._tokenizer.encode(fixed, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``."""
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=False))

    def __repr__(self) -> str:
        return f"HFTokenizer({self._name!r})"
