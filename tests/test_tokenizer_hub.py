"""``hf:<repo id>`` and open-weights model names resolve from the local Hugging Face cache,
offline, never downloading; absent, the error says what to download."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
import tokenizers

import ctxbudget.tokenizers._registry as registry
from ctxbudget import HFTokenizer, TokenizerError, get_tokenizer, list_tokenizers

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TEXT = "Maya works in Lisbon and prefers short answers.\n"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No socket may connect, and no spec cached by another test is reused."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(registry, "_cache", {})


def cache_repo(
    cache: Path, repo_id: str, tokenizer_json: Path | None, *, revision: str = "main"
) -> Path:
    """Lay out ``repo_id`` as huggingface_hub caches it: refs/<revision> names a snapshot that
    holds tokenizer.json (or, with ``tokenizer_json=None``, records it absent)."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / revision).write_text(COMMIT, encoding="utf-8")
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    if tokenizer_json is None:
        (repo / ".no_exist" / COMMIT).mkdir(parents=True)
        (repo / ".no_exist" / COMMIT / "tokenizer.json").write_text("", encoding="utf-8")
    else:
        blobs = repo / "blobs"
        blobs.mkdir()
        shutil.copy(tokenizer_json, blobs / "abc123")
        (snapshot / "tokenizer.json").symlink_to(blobs / "abc123")
    return snapshot


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache named by HF_HUB_CACHE."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    return cache


def test_a_repo_id_resolves_from_the_cache(hub: Path, hf_tokenizer_json: Path) -> None:
    """'hf:org/name' loads the cached tokenizer.json of the repo's main revision and counts
    like the file itself (before, a repo id was taken for a missing path)."""
    cache_repo(hub, "deepseek-ai/DeepSeek-V3", hf_tokenizer_json)
    tok = get_tokenizer("hf:deepseek-ai/DeepSeek-V3")
    assert isinstance(tok, HFTokenizer)
    assert tok.name == "hf:deepseek-ai/DeepSeek-V3"
    reference = tokenizers.Tokenizer.from_file(str(hf_tokenizer_json))
    assert tok.count(TEXT) == len(reference.encode(TEXT, add_special_tokens=False).ids)


def test_hf_home_is_honoured_when_hf_hub_cache_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hf_tokenizer_json: Path
) -> None:
    """With HF_HOME set and HF_HUB_CACHE unset, the cache is $HF_HOME/hub, read at call time."""
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    cache_repo(tmp_path / "home" / "hub", "org/model", hf_tokenizer_json)
    assert get_tokenizer("hf:org/model").count(TEXT) > 0


def test_a_revision_selects_its_snapshot(hub: Path, hf_tokenizer_json: Path) -> None:
    """'hf:org/name@<revision>' resolves that revision, named with it."""
    cache_repo(hub, "org/model", hf_tokenizer_json, revision="v2")
    assert get_tokenizer("hf:org/model@v2").name == "hf:org/model@v2"
    assert get_tokenizer(f"hf:org/model@{COMMIT}").count(TEXT) > 0
    with pytest.raises(TokenizerError, match=r"hf download org/model tokenizer\.json"):
        get_tokenizer("hf:org/model")  # main is not cached


def test_an_absent_repo_is_a_one_line_error_saying_what_to_download(hub: Path) -> None:
    """Not in the cache: the error names the cache, the download command (both CLIs) and
    the path alternative, on one line, and nothing is downloaded."""
    with pytest.raises(TokenizerError) as info:
        get_tokenizer("hf:deepseek-ai/DeepSeek-V3")
    message = str(info.value)
    assert "\n" not in message
    assert str(hub) in message
    assert "`hf download deepseek-ai/DeepSeek-V3 tokenizer.json`" in message
    assert "huggingface-cli download" in message
    assert "hf:/path/to/tokenizer.json" in message
    assert info.value.spec == "hf:deepseek-ai/DeepSeek-V3"


def test_a_repo_cached_without_tokenizer_json_says_so(hub: Path) -> None:
    """A repo whose cache records tokenizer.json as absent (another format) says so."""
    cache_repo(hub, "mistralai/Mistral-Large-Instruct-2411", None)
    with pytest.raises(TokenizerError, match=r"has no tokenizer\.json"):
        get_tokenizer("hf:mistralai/Mistral-Large-Instruct-2411")


def test_paths_keep_working(hub: Path, hf_tokenizer_json: Path, tmp_path: Path) -> None:
    """'hf:<file>' and 'hf:<directory holding tokenizer.json>' read the file, as before."""
    assert get_tokenizer(f"hf:{hf_tokenizer_json}").name == f"hf:{hf_tokenizer_json}"
    assert get_tokenizer(f"hf:{hf_tokenizer_json.parent}").count(TEXT) > 0
    with pytest.raises(TokenizerError, match=r"no tokenizer\.json at"):
        get_tokenizer(f"hf:{tmp_path / 'nowhere.json'}")


@pytest.mark.parametrize(
    ("model", "repo"),
    [
        ("llama-3.1-8b-instruct", "meta-llama/Llama-3.2-1B-Instruct"),
        ("groq/llama-3.3-70b-versatile", "meta-llama/Llama-3.2-1B-Instruct"),
        ("Llama-4-Scout-17B-16E-Instruct-FP8", "meta-llama/Llama-4-Scout-17B-16E-Instruct"),
        ("deepseek-chat", "deepseek-ai/DeepSeek-V3"),
        ("deepseek/deepseek-reasoner", "deepseek-ai/DeepSeek-R1"),
        ("qwen2.5-72b-instruct", "Qwen/Qwen3-8B"),
        ("open-mistral-7b", "mistralai/Mistral-7B-Instruct-v0.3"),
    ],
)
def test_a_family_model_name_resolves_to_any_cached_repo_of_its_family(
    model: str, repo: str, hub: Path, hf_tokenizer_json: Path
) -> None:
    """A Llama / DeepSeek / Qwen / Mistral model name resolves to a cached repo of its family
    (before: 'unknown tokenizer' and 70 names)."""
    cache_repo(hub, repo, hf_tokenizer_json)
    tok = get_tokenizer(model)
    assert tok is get_tokenizer(f"hf:{repo}")
    assert tok.count(TEXT) > 0


def test_a_repo_id_given_as_a_model_name_is_used_first(hub: Path, hf_tokenizer_json: Path) -> None:
    """'meta-llama/Llama-3.3-70B-Instruct' uses that very repo when it is cached, before the
    family's other repos."""
    cache_repo(hub, "meta-llama/Llama-3.1-8B-Instruct", hf_tokenizer_json)
    cache_repo(hub, "meta-llama/Llama-3.3-70B-Instruct", hf_tokenizer_json)
    assert get_tokenizer("meta-llama/Llama-3.3-70B-Instruct").name == (
        "hf:meta-llama/Llama-3.3-70B-Instruct"
    )


def test_an_uncached_family_says_exactly_what_to_download_and_offers_the_proxy(hub: Path) -> None:
    """Without its tokenizer in the cache, a Llama model name's error names the repo to
    download (gated: log in first) and 'proxy:llama' for an approximate count; no fallback."""
    with pytest.raises(TokenizerError) as info:
        get_tokenizer("llama-3.1-8b")
    message = str(info.value)
    assert "\n" not in message
    assert "Llama 3" in message
    assert "`hf download meta-llama/Llama-3.1-8B-Instruct tokenizer.json`" in message
    assert "hf auth login" in message
    assert "'proxy:llama'" in message


def test_a_mistral_api_model_names_no_guessed_repo(hub: Path) -> None:
    """Mistral's API models map to no open-weights repo: the error asks for one, or the
    proxy."""
    with pytest.raises(TokenizerError, match=r"hf:<its Hugging Face repo id>.*proxy:mistral"):
        get_tokenizer("mistral-large-latest")


def test_list_tokenizers_names_the_cached_repos(hub: Path, hf_tokenizer_json: Path) -> None:
    """Repos whose tokenizer.json is cached are listed as 'hf:<repo id>'; others are not."""
    cache_repo(hub, "deepseek-ai/DeepSeek-V3", hf_tokenizer_json)
    cache_repo(hub, "mistralai/Mistral-Large-Instruct-2411", None)
    names = list_tokenizers()
    assert "hf:deepseek-ai/DeepSeek-V3" in names
    assert not any("Mistral-Large" in n for n in names)
