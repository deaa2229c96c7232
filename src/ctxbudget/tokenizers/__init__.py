"""Tokenizers: the measure of every cap.

:func:`get_tokenizer` resolves a spec (an encoding or model name, ``"provider/model"``,
``"claude-*"`` / ``"gemini-*"`` proxies, ``"hf:<repo id or tokenizer.json>"``, ``"approx"``...)
or an object (a tiktoken ``Encoding``, a ``tokenizers`` or ``transformers`` tokenizer, a count
callable) into a cached :class:`~ctxbudget.typing.Tokenizer`; vocabularies load offline and
nothing is downloaded from the Hugging Face Hub. :class:`CountCache` and
:class:`CachedTokenizer` make sure each piece of text is counted once. docs/tokenizers.md
describes every spec, the proxies' factors and their sources, and count-only backends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy

if TYPE_CHECKING:
    from ._approx import ApproxTokenizer
    from ._counting import CachedTokenizer, CountCache
    from ._cutting import truncate
    from ._hf import HFTokenizer
    from ._objects import CountOnlyTokenizer, TransformersTokenizer
    from ._providers import AnthropicTokenCounter, GeminiTokenCounter
    from ._proxies import PROXIES, Proxy, ProxyTokenizer
    from ._registry import get_tokenizer, list_tokenizers
    from ._tiktoken import TiktokenTokenizer

__all__ = [
    "PROXIES",
    "AnthropicTokenCounter",
    "ApproxTokenizer",
    "CachedTokenizer",
    "CountCache",
    "CountOnlyTokenizer",
    "GeminiTokenCounter",
    "HFTokenizer",
    "Proxy",
    "ProxyTokenizer",
    "TiktokenTokenizer",
    "TransformersTokenizer",
    "get_tokenizer",
    "list_tokenizers",
    "truncate",
]

#: Module -> the names it defines that this package re-exports, imported on first use.
_EXPORTS = {
    "._approx": ("ApproxTokenizer",),
    "._counting": ("CachedTokenizer", "CountCache"),
    "._cutting": ("truncate",),
    "._hf": ("HFTokenizer",),
    "._objects": ("CountOnlyTokenizer", "TransformersTokenizer"),
    "._providers": ("AnthropicTokenCounter", "GeminiTokenCounter"),
    "._proxies": ("PROXIES", "Proxy", "ProxyTokenizer"),
    "._registry": ("get_tokenizer", "list_tokenizers"),
    "._tiktoken": ("TiktokenTokenizer",),
}
__getattr__, __dir__ = _lazy.attach(__name__, _EXPORTS, globals())
