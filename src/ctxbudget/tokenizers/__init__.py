"""Tokenizers: the measure of every cap.

:func:`get_tokenizer` resolves a spec (an encoding or model name, ``"hf:<tokenizer.json>"``,
``"approx"``) or an object into a cached :class:`~ctxbudget.typing.Tokenizer`; vocabularies load
offline. :class:`CountCache` and :class:`CachedTokenizer` make sure each piece of text is counted
once.
"""

from ._approx import ApproxTokenizer
from ._counting import CachedTokenizer, CountCache
from ._cutting import truncate
from ._hf import HFTokenizer
from ._registry import get_tokenizer, list_tokenizers
from ._tiktoken import TiktokenTokenizer

__all__ = [
    "ApproxTokenizer",
    "CachedTokenizer",
    "CountCache",
    "HFTokenizer",
    "TiktokenTokenizer",
    "get_tokenizer",
    "list_tokenizers",
    "truncate",
]
