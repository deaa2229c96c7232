"""Tokenizers: the measure of every cap.

:func:`get_tokenizer` turns a spec into a cached, thread-safe :class:`~ctxbudget.typing.Tokenizer`
(every form is described in docs/tokenizers.md):

- an encoding name: ``"o200k_base"``, ``"cl100k_base"``, ``"o200k_harmony"`` ship offline;
  tiktoken's other encodings load when tiktoken's cache holds their files;
- an OpenAI model name: ``"gpt-4o"``, ``"gpt-5"``, ``"o3"``, ``"gpt-4"``..., by tiktoken's own
  table (exact name first, then prefix), ``tiktoken.model.encoding_name_for_model``, then a
  small table for models newer than the installed tiktoken; litellm-style ``"openai/gpt-4o"``
  and ``"azure/gpt-4o"`` resolve like the bare name;
- ``"claude-*"`` and ``"gemini-*"`` (Anthropic and Google publish no tokenizer): an explicit
  proxy, o200k_base counts times a documented safety factor (:data:`PROXIES`), marked
  approximate; ``"proxy:<family or model>"`` asks for one (``"proxy:llama-3.1"``);
- Llama, DeepSeek, Qwen and Mistral model names, and ``"hf:<repo id>"``: the repo's
  ``tokenizer.json`` from the local Hugging Face cache, never downloaded (the error says what
  to download); ``"hf:<path to tokenizer.json>"`` reads a file;
- ``"anthropic-api:<model>"``, ``"gemini-api:<model>"``: the providers' count-tokens APIs
  (``pip install 'ctxbudget[count-api]'``; keys from the environment);
- ``"approx"``: no vocabulary, one token per 4 characters (rounded up), OpenAI's published rule
  of thumb for English text ("What are tokens and how to count them?", OpenAI help center).

Objects are accepted too: a :class:`~ctxbudget.typing.Tokenizer` (returned as is), a
``tiktoken.Encoding``, a ``tokenizers.Tokenizer``, a ``transformers`` tokenizer, or a plain
count callable ``str -> int`` (count-only).
"""

from __future__ import annotations

import difflib
import hashlib
import sys
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from .._errors import TokenizerError
from ..typing import Tokenizer
from ._approx import ApproxTokenizer, load_approx
from ._counting import CachedTokenizer
from ._hf import HFTokenizer
from ._hub import cached_repos, find_cached, load_hf, missing_repo
from ._models import Resolved, resolve
from ._objects import CountOnlyTokenizer, TransformersTokenizer, is_transformers
from ._proxies import PROXIES, ProxyTokenizer
from ._tiktoken import TiktokenTokenizer, available_offline, load_encoding

if TYPE_CHECKING:
    import tiktoken

__all__ = ["get_tokenizer", "list_tokenizers"]

_cache: dict[str, Tokenizer] = {}
_lock = threading.RLock()
#: Wrappers of objects (``tokenizers.Tokenizer``, ``tiktoken.Encoding``, ``transformers``
#: tokenizers, callables), by id and name; each entry holds the object, so its id cannot be
#: reused while it is cached (at most this many, least recently used dropped first).
_wrapped: OrderedDict[tuple[int, str | None], tuple[object, Tokenizer]] = OrderedDict()
_KEEP_WRAPPED = 64
#: Types whose objects passed the Tokenizer protocol check, so it runs once per type.
_protocol_types: set[type] = set()
#: ctxbudget's own tokenizer classes: returned as they are, with no check at all.
_OWN_TYPES: frozenset[type] = frozenset(
    {
        TiktokenTokenizer,
        HFTokenizer,
        ApproxTokenizer,
        CachedTokenizer,
        CountOnlyTokenizer,
        TransformersTokenizer,
        ProxyTokenizer,
    }
)
#: Names offered by "did you mean" besides the encodings and OpenAI models.
_EXAMPLES = (
    "claude-sonnet-4-5",
    "claude-opus-4-7",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "llama-3.1",
    "llama-3.3",
    "llama-4",
    "deepseek-chat",
    "qwen2.5",
    "qwen3",
    "approx",
    *(f"proxy:{family}" for family in PROXIES),
)
_WHAT_TO_GIVE = (
    "give an encoding (o200k_base, cl100k_base), an OpenAI model ('gpt-4o'), 'claude-*' or "
    "'gemini-*' (approximate proxies), 'hf:<repo id or tokenizer.json>' (Llama, Mistral, "
    "DeepSeek, Qwen...), 'approx', or a tokenizer object; list_tokenizers() has the names"
)


def list_tokenizers() -> list[str]:
    """Names :func:`get_tokenizer` resolves here and now, without a path or a download.

    Returns:
        Sorted encoding names available offline (o200k_base, cl100k_base, o200k_harmony, and
        the others only when tiktoken's cache holds their files), ``"approx"``, sorted OpenAI
        model names and prefixes (``"gpt-4o-*"``) of those encodings, ``"claude-*"`` and
        ``"gemini-*"``, ``"proxy:<family>"`` for each :data:`PROXIES` entry, then
        ``"hf:<repo id>"`` for each repo whose ``tokenizer.json`` is in the local Hugging
        Face cache.
    """
    import tiktoken
    from tiktoken.model import MODEL_PREFIX_TO_ENCODING, MODEL_TO_ENCODING

    encodings = sorted(e for e in tiktoken.list_encoding_names() if available_offline(e))
    usable = set(encodings)
    models = {m for m, e in MODEL_TO_ENCODING.items() if e in usable}
    models |= {p + "*" for p, e in MODEL_PREFIX_TO_ENCODING.items() if e in usable}
    proxies = [f"proxy:{family}" for family in PROXIES]
    hub = [f"hf:{repo}" for repo in cached_repos()]
    return [*encodings, "approx", *sorted(models), "claude-*", "gemini-*", *proxies, *hub]


def get_tokenizer(spec: str | Tokenizer | Any, *, name: str | None = None) -> Tokenizer:
    """Return the tokenizer for ``spec``, cached: the same spec gives the same object.

    Args:
        spec: a name: an encoding (``"o200k_base"``), a model (``"gpt-4o"``,
            ``"openai/gpt-4o"``, ``"claude-sonnet-4-5"``, ``"gemini-2.5-pro"``,
            ``"llama-3.1-8b"``), ``"hf:<repo id>"`` or ``"hf:<path to tokenizer.json>"``,
            ``"proxy:<family or model>"``, ``"anthropic-api:<model>"`` /
            ``"gemini-api:<model>"``, ``"approx"`` / ``"approx:<chars per token>"``. Or an
            object: a :class:`~ctxbudget.typing.Tokenizer` (``name`` and ``count``; returned
            as is, the protocol check runs once per type), a ``tiktoken.Encoding``, a
            ``tokenizers.Tokenizer``, a ``transformers`` tokenizer, or a count callable
            ``str -> int`` (wrapped in a :class:`CountOnlyTokenizer`). An object is wrapped
            once, then the same wrapper is returned for it.
        name: for an object that is wrapped, the name of the wrapper (in reports and
            count-cache keys); by default the object's own (an encoding's name, a callable's
            qualified name, ``"transformers:<name_or_path>"``, a hash of a tokenizer.json).

    Returns:
        A :class:`~ctxbudget.typing.Tokenizer`. Safe to share between threads.

    Raises:
        TokenizerError: the spec is unknown (the one-line message names the closest known
            names and what to give for Claude, Gemini and Llama), a ``tokenizer.json`` is
            missing from its path or from the Hugging Face cache (the message says what to
            download), a vocabulary cannot be loaded offline, ``name`` is given for a spec
            that is not wrapped, or the object is no tokenizer.

    >>> get_tokenizer("gpt-4o").name
    'o200k_base'
    >>> get_tokenizer("openai/gpt-4o") is get_tokenizer("o200k_base")
    True
    """
    if isinstance(spec, str):
        if name is not None:
            raise TokenizerError(f"name= is for tokenizer objects, not for {spec!r}", spec=spec)
        with _lock:
            cached = _cache.get(spec)
            if cached is None:
                cached = _load(spec)
                _cache[spec] = cached
            return cached
    kind = type(spec)
    if name is None:
        if kind in _OWN_TYPES or kind in _protocol_types:
            return spec
        if isinstance(spec, Tokenizer):
            _protocol_types.add(kind)
            return spec
    wrapper = _wrap(spec, name)
    if wrapper is not None:
        return wrapper
    raise TokenizerError(
        f"cannot use {spec!r} as a tokenizer: pass a name such as 'o200k_base', "
        f"'hf:<repo id or tokenizer.json>', a tiktoken.Encoding, a tokenizers.Tokenizer, a "
        f"transformers tokenizer, a count callable (str -> int), or an object with name and "
        f"count()"
        + ("; name= applies only to objects that are wrapped" if name is not None else ""),
        spec=repr(spec),
    )


def _wrap(obj: Any, name: str | None) -> Tokenizer | None:
    """The one wrapper of ``obj`` (and ``name``), made on first use; ``None`` when ``obj`` is
    of no kind that is wrapped."""
    key = (id(obj), name)
    with _lock:
        entry = _wrapped.get(key)
        if entry is not None and entry[0] is obj:
            _wrapped.move_to_end(key)
            return entry[1]
    wrapper = _make_wrapper(obj, name)
    if wrapper is None:
        return None
    with _lock:
        _wrapped[key] = (obj, wrapper)
        while len(_wrapped) > _KEEP_WRAPPED:
            _wrapped.popitem(last=False)
    return wrapper


def _make_wrapper(obj: Any, name: str | None) -> Tokenizer | None:
    tiktoken = sys.modules.get("tiktoken")  # no Encoding exists before tiktoken is imported
    if tiktoken is not None and isinstance(obj, tiktoken.Encoding):
        return _wrap_encoding(obj, name)
    if _is_hf_tokenizer(obj):
        # named by a hash of its content, so cache keys stay right for equal objects
        digest = hashlib.sha256(obj.to_str().encode()).hexdigest()[:16]
        return HFTokenizer(obj, name=name or f"hf:sha256={digest}")
    if is_transformers(obj):
        return TransformersTokenizer(obj, name=name)
    if callable(obj) and not isinstance(obj, type):
        return CountOnlyTokenizer(obj, name=name)
    return None


def _wrap_encoding(encoding: tiktoken.Encoding, name: str | None) -> Tokenizer:
    """A ``tiktoken.Encoding``: the same tokenizer as its name when it is that encoding (the
    one tiktoken registered, or an equal one of a bundled encoding); else a tokenizer named
    apart, whose counts are not assumed to add up across lines."""
    import tiktoken

    known = encoding.name
    if name is None and known in tiktoken.list_encoding_names():
        from tiktoken.registry import ENCODINGS

        if ENCODINGS.get(known) is encoding:
            return get_tokenizer(known)
        if available_offline(known):
            ours = get_tokenizer(known)
            assert isinstance(ours, TiktokenTokenizer)
            if _same_encoding(ours.encoding, encoding):
                return ours
        name = f"{known}#{id(encoding):x}"
    return TiktokenTokenizer(encoding, name=name)


def _same_encoding(a: tiktoken.Encoding, b: tiktoken.Encoding) -> bool:
    return bool(
        a._pat_str == b._pat_str  # tiktoken keeps them private
        and a._special_tokens == b._special_tokens
        and a._mergeable_ranks == b._mergeable_ranks
    )


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
    if spec.startswith("proxy:"):
        return _load_proxy(spec)
    if spec.startswith(("anthropic-api:", "gemini-api:")):
        from ._providers import load_count_api

        return load_count_api(spec)
    import tiktoken

    if spec in tiktoken.list_encoding_names():
        return TiktokenTokenizer(load_encoding(spec, spec))
    resolved = resolve(spec)
    if resolved is None:
        raise TokenizerError(_unknown(spec), spec=spec)
    return _load_resolved(spec, resolved)


def _load_resolved(spec: str, resolved: Resolved) -> Tokenizer:
    if resolved.kind == "encoding":
        if not available_offline(resolved.target):
            load_encoding(resolved.target, spec)  # downloads it, or says why not (for spec)
        return get_tokenizer(resolved.target)
    if resolved.kind == "proxy":
        return get_tokenizer(f"proxy:{resolved.target}")
    family = resolved.hub
    assert family is not None
    repos = (resolved.repo,) if resolved.repo else ()
    found = find_cached((*repos, *family.repos), spec)
    if found is not None:
        return get_tokenizer(f"hf:{found[0]}")
    proxy = f", or 'proxy:{family.proxy}' for an approximate count" if family.proxy else ""
    if not family.repos:
        raise TokenizerError(
            f"{spec!r} is a {family.family} model with no open-weights repo known here: give "
            f"'hf:<its Hugging Face repo id>' (read from the local cache), "
            f"'hf:/path/to/tokenizer.json'{proxy}",
            spec=spec,
        )
    message = missing_repo(family.repos[0], spec, also=proxy)
    raise TokenizerError(f"{spec!r} is a {family.family} model: {message}", spec=spec)


def _load_proxy(spec: str) -> Tokenizer:
    target = spec.partition(":")[2]
    proxy = PROXIES.get(target)
    if proxy is None:
        resolved = resolve(target) if target else None
        family = None
        if resolved is not None and resolved.kind == "proxy":
            family = resolved.target
        elif resolved is not None and resolved.hub is not None:
            family = resolved.hub.proxy
        elif resolved is not None:
            raise TokenizerError(
                f"{target!r} has an exact tokenizer ({resolved.target}): ask for "
                f"{target!r} itself, not {spec!r}",
                spec=spec,
            )
        if family is None:
            raise TokenizerError(
                f"no proxy for {target!r}: give 'proxy:' and a family ("
                + ", ".join(PROXIES)
                + ") or a model of one",
                spec=spec,
            )
        return get_tokenizer(f"proxy:{family}")
    return ProxyTokenizer(get_tokenizer(proxy.encoding), proxy.factor, family=proxy.family)


def _unknown(spec: str) -> str:
    """The one-line error for an unknown spec: the closest names and what to give."""
    import tiktoken
    from tiktoken.model import MODEL_TO_ENCODING

    names = [
        *(e for e in tiktoken.list_encoding_names() if available_offline(e)),
        *(m for m, e in MODEL_TO_ENCODING.items() if available_offline(e)),
        *_EXAMPLES,
    ]
    close = difflib.get_close_matches(spec.lower(), names, n=3, cutoff=0.6)
    hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
    return f"unknown tokenizer {spec!r}{hint}: {_WHAT_TO_GIVE}"
