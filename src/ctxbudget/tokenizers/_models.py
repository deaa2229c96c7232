"""Model names to tokenizer specs: OpenAI models to their encoding, Claude and Gemini to their
proxy, open-weights families to their Hugging Face repos.

A name is tried as given, then lower-cased, then without each leading ``provider/`` segment
(litellm's ``openai/gpt-4o``, ``azure/gpt-4o``, ``openrouter/meta-llama/llama-3.1-8b``) and
without Bedrock's ``[region.]anthropic.`` prefix and Vertex's ``@date`` suffix.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

__all__ = ["HUB_FAMILIES", "HubFamily", "Resolved", "claude_family", "name_variants", "resolve"]

#: OpenAI model prefixes mapped to their encoding, for tiktoken releases older than the models
#: (tiktoken's own table, ``tiktoken.model``, is asked first). A prefix matches the whole name
#: or the name up to a "-" or ".".
_OPENAI = {
    "gpt-5": "o200k_base",
    "gpt-4.5": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4o": "o200k_base",
    "chatgpt-4o": "o200k_base",
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4-mini": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-3.5-turbo": "cl100k_base",
    "gpt-35-turbo": "cl100k_base",
}
_BEDROCK = re.compile(r"^(?:[a-z]{2}\.)?(?:anthropic|meta|mistral)\.")
#: A Claude model's version: ``claude-3-5-sonnet-...`` (version first) or ``claude-sonnet-4-5``
#: (name first); a minor version is one or two digits (``-20241022`` is a date).
_CLAUDE_VERSION = re.compile(
    r"^claude-(?:(?P<a>\d+)(?:[-.](?P<b>\d{1,2}))?|[a-z]+-(?P<c>\d+)(?:[-.](?P<d>\d{1,2}))?)(?=$|[-@:.])"
)


@dataclass(frozen=True)
class HubFamily:
    """Open-weights models whose ``tokenizer.json`` is on the Hugging Face Hub.

    Attributes:
        family: its name in messages (``"Llama 3"``).
        pattern: matches a lower-cased model name (``re.match``).
        repos: repo ids holding its tokenizer, any of which counts the same (the first one
            cached is used; the first is the one to download).
        proxy: the :data:`~ctxbudget.tokenizers.PROXIES` entry to ask for instead, if any.
    """

    family: str
    pattern: re.Pattern[str]
    repos: tuple[str, ...]
    proxy: str | None


def _family(family: str, pattern: str, repos: tuple[str, ...], proxy: str | None) -> HubFamily:
    return HubFamily(family, re.compile(pattern), repos, proxy)


#: Model names whose tokenizer resolves from the local Hub cache. Llama 3.0 to 3.3 share one
#: vocabulary, as do Qwen 2 to 3 and DeepSeek V3 / R1 (counts exclude special tokens, the
#: only tokens in which their repos differ).
HUB_FAMILIES = (
    _family(
        "Llama 4",
        r"(meta-)?llama-?4",
        (
            "meta-llama/Llama-4-Scout-17B-16E-Instruct",
            "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
        ),
        "llama",
    ),
    _family(
        "Llama 3",
        r"(meta-)?llama-?3",
        (
            "meta-llama/Llama-3.1-8B-Instruct",
            "meta-llama/Llama-3.2-1B-Instruct",
            "meta-llama/Llama-3.2-3B-Instruct",
            "meta-llama/Llama-3.3-70B-Instruct",
            "meta-llama/Meta-Llama-3-8B-Instruct",
            "meta-llama/Llama-3.1-8B",
            "meta-llama/Llama-3.2-1B",
            "meta-llama/Meta-Llama-3-8B",
        ),
        "llama",
    ),
    _family(
        "DeepSeek V3",
        r"deepseek-(chat|reasoner|v3|r1)",
        ("deepseek-ai/DeepSeek-V3", "deepseek-ai/DeepSeek-V3-0324", "deepseek-ai/DeepSeek-R1"),
        "deepseek",
    ),
    _family(
        "Qwen",
        r"qwen(\d|-|$)",
        ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen3-8B", "Qwen/Qwen2-7B-Instruct"),
        "qwen",
    ),
    _family(
        "Mistral 7B", r"(open-)?mistral-7b", ("mistralai/Mistral-7B-Instruct-v0.3",), "mistral"
    ),
    _family(
        "Mixtral 8x7B",
        r"(open-)?mixtral-8x7b",
        ("mistralai/Mixtral-8x7B-Instruct-v0.1",),
        "mistral",
    ),
    _family(
        "Mixtral 8x22B",
        r"(open-)?mixtral-8x22b",
        ("mistralai/Mixtral-8x22B-Instruct-v0.1",),
        "mistral",
    ),
    _family(
        "Mistral NeMo",
        r"(open-)?mistral-nemo",
        ("mistralai/Mistral-Nemo-Instruct-2407",),
        "mistral",
    ),
    # Mistral's API models (mistral-large-latest, codestral...) name no open-weights repo here.
    _family("Mistral", r"(mistral|mixtral|ministral|magistral|codestral|devstral)", (), "mistral"),
    _family("DeepSeek", r"deepseek", (), "deepseek"),
)


@dataclass(frozen=True)
class Resolved:
    """What a model name stands for.

    Attributes:
        kind: ``"encoding"`` (a tiktoken encoding), ``"proxy"`` (a :data:`PROXIES` entry) or
            ``"hub"`` (a :class:`HubFamily`).
        target: the encoding name or the proxy family.
        hub: the family, for ``"hub"``.
        repo: for ``"hub"``, the name's last ``org/name`` segments, tried as a repo id first.
    """

    kind: str
    target: str
    hub: HubFamily | None = None
    repo: str | None = None


def name_variants(spec: str) -> list[str]:
    """``spec`` as given, lower-cased, without each leading ``provider/`` segment, without a
    Bedrock prefix or a Vertex ``@date`` suffix; in that order, without repeats."""
    out: list[str] = []
    rest = spec
    while True:
        for name in (rest, rest.lower()):
            for variant in (name, _BEDROCK.sub("", name.partition("@")[0])):
                if variant and variant not in out:
                    out.append(variant)
        if "/" not in rest:
            return out
        rest = rest.partition("/")[2]


def _openai(name: str) -> str | None:
    from tiktoken.model import encoding_name_for_model

    with contextlib.suppress(KeyError):  # not one of tiktoken's names: try our prefixes
        return encoding_name_for_model(name)
    for prefix, encoding in _OPENAI.items():
        if name == prefix or (name.startswith(prefix) and name[len(prefix)] in "-."):
            return encoding
    return None


def claude_family(name: str) -> str:
    """``"claude"`` for Claude 1 to 4.6, ``"claude-4.7"`` for Opus 4.7 and later (and for a
    name whose version cannot be read: the larger factor is the safe side)."""
    match = _CLAUDE_VERSION.match(name)
    if match is None:
        return "claude-4.7"
    major = int(match["a"] or match["c"])
    minor = int(match["b"] or match["d"] or 0)
    return "claude" if (major, minor) < (4, 7) else "claude-4.7"


def resolve(spec: str) -> Resolved | None:
    """What the model name ``spec`` stands for, or ``None`` when no rule knows it."""
    variants = name_variants(spec)
    for name in variants:
        encoding = _openai(name)
        if encoding is not None:
            return Resolved("encoding", encoding)
    for name in variants:
        if "/" in name:
            continue  # families match bare model names; "provider/" is tried stripped
        if name.startswith("claude"):
            return Resolved("proxy", claude_family(name))
        if name.startswith("gemini"):
            return Resolved("proxy", "gemini")
        for family in HUB_FAMILIES:
            if family.pattern.match(name):
                repo = "/".join(spec.split("/")[-2:]) if "/" in spec else None
                return Resolved("hub", family.family, family, repo)
    return None
