"""Hugging Face ``tokenizer.json`` files: by path, or by repo id from the local Hub cache.

Nothing is ever downloaded. A repo id (``"deepseek-ai/DeepSeek-V3"``) is looked up with
``huggingface_hub.try_to_load_from_cache`` in the cache that ``huggingface-cli download`` / ``hf
download`` fill, found as huggingface_hub finds it, but read from the environment at each call:
``$HF_HUB_CACHE``, else ``$HUGGINGFACE_HUB_CACHE``, else ``$HF_HOME/hub``, else
``$XDG_CACHE_HOME/huggingface/hub``, else ``~/.cache/huggingface/hub``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .._errors import TokenizerError
from ..typing import Tokenizer
from ._hf import HFTokenizer

__all__ = ["cached_repos", "find_cached", "hub_cache_dir", "load_hf", "load_repo", "missing_repo"]

#: A Hub repo id, optionally with a revision: ``org/name``, ``name``, ``org/name@revision``.
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(?:/[\w.-]+)?(?:@[\w./-]+)?$")
#: Organisations whose repos are gated: their files download only after the licence is accepted.
_GATED = ("meta-llama/", "google/", "mistralai/")


def hub_cache_dir() -> Path:
    """The Hugging Face Hub cache directory, from the environment as it is now."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(var)
        if value:
            return Path(os.path.expandvars(value)).expanduser()
    home = os.environ.get("HF_HOME")
    if not home:
        home = os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(os.path.expandvars(home)).expanduser() / "hub"


def _lookup(repo_id: str, revision: str | None, spec: str) -> str | bool | None:
    """The cached ``tokenizer.json`` of ``repo_id`` (a path), ``None`` when not cached, or
    ``False`` when the cache records that the repo has no such file."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError as exc:  # pragma: no cover - a dependency of ctxbudget and tokenizers
        raise TokenizerError(
            f"resolving {spec!r} needs huggingface_hub: run `pip install huggingface-hub`",
            spec=spec,
        ) from exc
    try:
        found = try_to_load_from_cache(
            repo_id, "tokenizer.json", cache_dir=hub_cache_dir(), revision=revision
        )
    except ValueError as exc:  # an invalid repo id
        raise TokenizerError(
            f"{repo_id!r} is not a Hugging Face repo id: {exc}", spec=spec
        ) from exc
    if isinstance(found, str):
        return found
    return None if found is None else False


def find_cached(repo_ids: tuple[str, ...], spec: str) -> tuple[str, str] | None:
    """``(repo id, path)`` of the first of ``repo_ids`` whose ``tokenizer.json`` is cached."""
    for repo_id in repo_ids:
        if not _REPO_ID.match(repo_id):
            continue  # a model name's "provider/model" that is no repo id
        found = _lookup(repo_id, None, spec)
        if isinstance(found, str):
            return repo_id, found
    return None


def cached_repos() -> list[str]:
    """Repo ids whose ``tokenizer.json`` is in the local Hub cache, sorted."""
    root = hub_cache_dir()
    try:
        folders = [p.name for p in root.iterdir() if p.name.startswith("models--")]
    except OSError:
        return []
    repos = []
    for folder in folders:
        repo_id = folder.removeprefix("models--").replace("--", "/", 1)
        if isinstance(_lookup(repo_id, None, repo_id), str):
            repos.append(repo_id)
    return sorted(repos)


def missing_repo(repo_id: str, spec: str, *, absent: bool = False, also: str = "") -> str:
    """The one-line message for a repo whose ``tokenizer.json`` is not cached: what to
    download, or what to give instead (``also``: one more choice, e.g. a proxy)."""
    if absent:
        return (
            f"the cached Hugging Face repo {repo_id!r} has no tokenizer.json (for {spec!r}; it "
            f"ships another tokenizer format): give 'hf:/path/to/tokenizer.json'{also}"
        )
    gated = (
        "; gated: accept its licence, then `hf auth login`" if repo_id.startswith(_GATED) else ""
    )
    return (
        f"no tokenizer.json of {repo_id!r} in the Hugging Face cache {str(hub_cache_dir())!r} "
        f"(for {spec!r}; nothing is downloaded): run `hf download {repo_id} tokenizer.json` "
        f"once (older huggingface_hub: `huggingface-cli download`{gated}), or give "
        f"'hf:/path/to/tokenizer.json'{also}"
    )


def load_repo(repo_id: str, revision: str | None, spec: str) -> Tokenizer:
    """The tokenizer of a Hub repo from the local cache, named ``hf:<repo id>[@revision]``."""
    found = _lookup(repo_id, revision, spec)
    if not isinstance(found, str):
        raise TokenizerError(missing_repo(repo_id, spec, absent=found is False), spec=spec)
    name = f"hf:{repo_id}" + (f"@{revision}" if revision else "")
    return _from_file(Path(found), name, spec)


def _is_path(rest: str) -> bool:
    return (
        rest.startswith(("/", "~", ".", "\\"))
        or rest.endswith(".json")
        or "\\" in rest
        or not _REPO_ID.match(rest)
        or Path(rest).expanduser().exists()
    )


def load_hf(spec: str) -> Tokenizer:
    """``"hf:<path to tokenizer.json or its directory>"`` or ``"hf:<repo id>[@revision]"``.

    A value that starts with ``/``, ``~`` or ``.``, ends with ``.json``, or names an existing
    file or directory is a path; anything else shaped like ``org/name`` is a repo id.
    """
    rest = spec[3:]
    if not _is_path(rest):
        repo_id, _, revision = rest.partition("@")
        return load_repo(repo_id, revision or None, spec)
    path = Path(rest).expanduser()
    if path.is_dir() and (path / "tokenizer.json").is_file():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise TokenizerError(
            f"no tokenizer.json at {str(path)!r} (from {spec!r}): give the path of a Hugging "
            f"Face tokenizer.json file (or of its directory), or a Hub repo id such as "
            f"'hf:deepseek-ai/DeepSeek-V3' (read from the local cache)",
            spec=spec,
        )
    return _from_file(path, spec, spec)


def _from_file(path: Path, name: str, spec: str) -> Tokenizer:
    from tokenizers import Tokenizer as HfTokenizerClass

    try:
        hf = HfTokenizerClass.from_file(str(path))
    except Exception as exc:
        raise TokenizerError(
            f"{str(path)!r} is not a valid Hugging Face tokenizer.json: {exc}", spec=spec
        ) from exc
    return HFTokenizer(hf, name=name)
