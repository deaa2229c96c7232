"""Tokenizer specs for every model family: OpenAI names (bare and litellm-style), the Claude and
Gemini proxies, ``proxy:`` specs, short errors for unknown names, and only the encodings that
load offline listed as available."""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path

import pytest
import tiktoken.load
import tiktoken.model

import ctxbudget.tokenizers._registry as registry
from ctxbudget import (
    ContextBuilder,
    TokenizerError,
    build_context,
    fit_messages,
    get_tokenizer,
    list_tokenizers,
)
from ctxbudget.tokenizers import PROXIES, CountOnlyTokenizer, ProxyTokenizer

O200K = get_tokenizer("o200k_base")
TEXTS = ["", "a", "Hello, world!", "def f(x):\n    return x ** 2\n", "東京で会いましょう 👋" * 7]


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """tiktoken downloads fail and are recorded; a private tiktoken cache; no spec reused from
    another test."""
    attempts: list[str] = []
    original = tiktoken.load.read_file

    def guarded(blobpath: str) -> bytes:
        if "://" in blobpath:
            attempts.append(blobpath)
            raise ConnectionError(f"offline: {blobpath}")
        return original(blobpath)

    monkeypatch.setattr(tiktoken.load, "read_file", guarded)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken-cache"))
    monkeypatch.setattr(registry, "_cache", {})
    return attempts


# -- OpenAI model names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "encoding"),
    [
        ("openai/gpt-4o", "o200k_base"),
        ("azure/gpt-4o", "o200k_base"),
        ("openrouter/openai/gpt-4o-mini", "o200k_base"),
        ("GPT-4o", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-4.1-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5.1", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("azure/gpt-35-turbo", "cl100k_base"),
    ],
)
def test_openai_model_names_bare_or_prefixed_resolve_to_their_encoding(
    spec: str, encoding: str
) -> None:
    """OpenAI models map to their encoding, with or without a litellm provider prefix (before,
    'openai/gpt-4o' was unknown), and share the encoding's tokenizer object."""
    tok = get_tokenizer(spec)
    assert tok.name == encoding
    assert tok is get_tokenizer(encoding)


@pytest.mark.parametrize(
    ("spec", "encoding"),
    [("gpt-5-mini", "o200k_base"), ("o3", "o200k_base"), ("gpt-4.1-nano", "o200k_base")],
)
def test_new_openai_models_resolve_even_where_tiktoken_does_not_know_them(
    spec: str, encoding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the tables of a tiktoken older than the models (tiktoken>=0.7 is allowed),
    gpt-5, o3 and gpt-4.1 still map to o200k_base."""
    monkeypatch.setattr(tiktoken.model, "MODEL_TO_ENCODING", {"gpt-4": "cl100k_base"})
    monkeypatch.setattr(tiktoken.model, "MODEL_PREFIX_TO_ENCODING", {})
    assert get_tokenizer(spec).name == encoding


# -- Claude and Gemini proxies ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "family"),
    [
        ("claude-3-5-sonnet-20241022", "claude"),
        ("claude-3-opus-20240229", "claude"),
        ("claude-sonnet-4-20250514", "claude"),
        ("claude-sonnet-4-5", "claude"),
        ("claude-opus-4-6", "claude"),
        ("anthropic/claude-3-haiku-20240307", "claude"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude"),
        ("claude-3-5-sonnet@20240620", "claude"),
        ("claude-opus-4-7", "claude-4.7"),
        ("claude-opus-5", "claude-4.7"),
        ("claude-sonnet-5-5", "claude-4.7"),
        ("claude-next", "claude-4.7"),
        ("gemini-2.5-pro", "gemini"),
        ("gemini/gemini-2.5-flash", "gemini"),
        ("vertex_ai/gemini-3.1-pro-preview", "gemini"),
    ],
)
def test_claude_and_gemini_models_get_their_documented_proxy(spec: str, family: str) -> None:
    """Families without a public tokenizer get o200k_base times their factor, approximate
    (before: 'unknown tokenizer'). Opus 4.7 and later, and unreadable versions, get the
    larger Claude factor."""
    tok = get_tokenizer(spec)
    proxy = PROXIES[family]
    assert isinstance(tok, ProxyTokenizer)
    assert (tok.family, tok.factor, tok.approximate) == (family, proxy.factor, True)
    assert tok.name == f"{family}~o200k_base*{proxy.factor:g}"
    assert tok is get_tokenizer(f"proxy:{family}")


@pytest.mark.parametrize("family", sorted(PROXIES))
def test_a_proxy_count_is_o200k_times_its_factor_rounded_up_exactly(family: str) -> None:
    """ceil(o200k * factor) in exact decimal arithmetic: 180 tokens at 1.35 are 243, not the
    244 that binary floating point gives."""
    tok = get_tokenizer(f"proxy:{family}")
    factor = PROXIES[family].factor
    for text in [*TEXTS, "word " * 100]:
        n = O200K.count(text)
        expected = -(-n * round(factor * 100) // 100)
        assert tok.count(text) == expected
        assert tok.count(text) >= math.floor(n * factor)
    fixed = ProxyTokenizer(CountOnlyTokenizer(lambda t: 180, name="180"), 1.35, family="x")
    assert math.ceil(180 * 1.35) == 244
    assert fixed.count("anything") == 243


def test_every_proxy_names_its_models_and_its_source() -> None:
    """The proxy table is documentation: each entry says what it stands for and why."""
    for family, proxy in PROXIES.items():
        assert proxy.family == family
        assert proxy.factor >= 1
        assert proxy.models
        assert proxy.source
        assert proxy.encoding == "o200k_base"


@pytest.mark.parametrize(
    ("spec", "family"),
    [
        ("proxy:llama-3.1-8b", "llama"),
        ("proxy:deepseek-chat", "deepseek"),
        ("proxy:qwen3", "qwen"),
        ("proxy:mistral-large-latest", "mistral"),
        ("proxy:claude-opus-4-7", "claude-4.7"),
        ("proxy:gemini", "gemini"),
    ],
)
def test_proxy_specs_take_a_family_or_a_model_of_one(spec: str, family: str) -> None:
    """'proxy:' asks for an approximate count explicitly, by family or by model."""
    assert get_tokenizer(spec) is get_tokenizer(f"proxy:{family}")


@pytest.mark.parametrize(
    ("spec", "words"),
    [("proxy:gpt-4o", "exact tokenizer"), ("proxy:nosuch", "no proxy for"), ("proxy:", "no proxy")],
)
def test_bad_proxy_specs_say_why(spec: str, words: str) -> None:
    """A proxy for a model with an exact tokenizer, or for an unknown one, is refused."""
    with pytest.raises(TokenizerError, match=words):
        get_tokenizer(spec)


def test_a_build_with_a_proxy_is_marked_approximate_and_holds_its_cap() -> None:
    """Every report built with a proxy says approximate; the proxy's count of the text is
    within the cap, and the cut item was cut by counts alone."""
    content = {"summaries": "Maya moved to Lisbon in March. " * 400, "userFacts": "likes tea"}
    result = build_context(content, max_tokens=500, tokenizer="claude-sonnet-4-5")
    proxy = get_tokenizer("claude-sonnet-4-5")
    assert result.approximate is True
    assert result.to_dict()["approximate"] is True
    assert result.tokenizer == proxy.name
    assert result.tokens == proxy.count(result.text) <= 500
    assert O200K.count(result.text) * 1.35 <= 500 + 1
    assert build_context(content, max_tokens=500, tokenizer="gpt-4o").approximate is False


def test_fit_messages_with_a_proxy_fits_its_proxy_count() -> None:
    """fit_messages takes a Claude model name and fits the proxy's count."""
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " * 30}
                for i in range(40)]  # fmt: skip
    fitted = fit_messages(messages, 1_000, tokenizer="claude-opus-4-7")
    assert 0 < fitted.tokens <= 1_000
    assert len(fitted.messages) < len(messages)


def test_a_10_mb_line_builds_in_a_second_with_a_proxy() -> None:
    """The proxy passes on o200k_base's lower bound, so a huge item is never counted in full:
    the build stays fast, exact to the proxy, and reports the demand as a bound."""
    line = "x7Qz" * 2_500_000
    builder = ContextBuilder(max_tokens=2_000, tokenizer="claude-sonnet-4-5")
    start = time.perf_counter()
    result = builder.build({"blob": line, "facts": "Maya works in Lisbon"})
    assert time.perf_counter() - start < 5
    assert result.tokens <= 2_000
    blob = next(s for s in result.sections if s.name == "blob")
    assert blob.cut
    assert blob.demand_exact is False


# -- unknown specs and offline availability --------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "suggestion"),
    [("o200k", "o200k_base"), ("gpt4o", "gpt-4o"), ("claud-sonnet-4", "claude-sonnet-4-5")],
)
def test_an_unknown_spec_is_one_short_line_with_the_closest_names(
    spec: str, suggestion: str
) -> None:
    """An unknown name: one line naming the closest names and what to give for Claude, Gemini
    and Llama, not the 1,169-character list of legacy names."""
    with pytest.raises(TokenizerError) as info:
        get_tokenizer(spec)
    message = str(info.value)
    assert f"did you mean '{suggestion}'" in message
    assert "\n" not in message
    assert len(message) < 400
    assert "claude-*" in message
    assert "gemini-*" in message
    assert "hf:<repo id or tokenizer.json>" in message
    assert "Llama" in message
    assert "davinci" not in message
    assert info.value.spec == spec


def test_an_unknown_spec_with_nothing_close_still_says_what_to_give() -> None:
    """No suggestion when nothing is close; the guidance stays."""
    with pytest.raises(TokenizerError) as info:
        get_tokenizer("zzzzzz")
    assert "did you mean" not in str(info.value)
    assert "o200k_base" in str(info.value)


def _place(cache: Path, url: str) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"")  # noqa: S324 - tiktoken's key


def test_encodings_that_need_a_download_are_not_listed_until_cached(tmp_path: Path) -> None:
    """p50k_base, r50k_base, gpt2 and their models are listed only when tiktoken's cache holds
    their files (before, they were listed and failed offline)."""
    names = list_tokenizers()
    assert {"o200k_base", "cl100k_base", "o200k_harmony", "approx", "gpt-4o"} <= set(names)
    assert {"claude-*", "gemini-*", "proxy:claude", "proxy:gemini"} <= set(names)
    for missing in ("p50k_base", "r50k_base", "gpt2", "p50k_edit", "text-davinci-003", "davinci"):
        assert missing not in names
    cache = tmp_path / "tiktoken-cache"
    _place(cache, "https://openaipublic.blob.core.windows.net/encodings/p50k_base.tiktoken")
    names = list_tokenizers()
    assert {"p50k_base", "p50k_edit", "text-davinci-003"} <= set(names)
    assert "r50k_base" not in names


def test_asking_for_an_encoding_that_does_not_ship_says_why(no_downloads: list[str]) -> None:
    """p50k_base offline: the error says only o200k_base and cl100k_base ship offline and how to
    provide the file; a model of that encoding says the same."""
    for spec in ("p50k_base", "text-davinci-003"):
        with pytest.raises(TokenizerError) as info:
            get_tokenizer(spec)
        message = str(info.value)
        assert "only o200k_base and cl100k_base ship offline" in message
        assert "TIKTOKEN_CACHE_DIR" in message
        assert "\n" not in message
    assert no_downloads


def test_the_tokenizer_modules_docstring_examples_hold() -> None:
    """The >>> examples of truncate, CountOnlyTokenizer, ProxyTokenizer and get_tokenizer run
    as written."""
    import doctest

    from ctxbudget.tokenizers import _cutting, _objects, _proxies

    for module in (_cutting, _objects, _proxies, registry):
        failures, tried = doctest.testmod(module, raise_on_error=False)
        assert (failures, tried > 0) == (0, True), module.__name__
