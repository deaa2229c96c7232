"""Reading catalogue files: ctxbudget's own format and litellm's price file.

Both are read into *layers*: ``{lower-case name: {ModelInfo field: value}}`` holding only the
figures the file gives, so a layer laid over another changes exactly those figures.

ctxbudget's format (the bundled ``catalogue.json``)::

    {"format": "ctxbudget-models/1", "as_of": "2026-12-01",
     "models": {"gpt-4o": {"provider": "openai", "context_window": 128000,
                           "max_output_tokens": 16384, "input": 2.5, "output": 10.0,
                           "cached_input": 1.25, "sources": ["https://..."]}}}

with prices in USD per 1M tokens, an optional ``long_context`` object (``threshold`` plus the
four prices) and ``aliases`` (other names of the same model).

litellm's ``model_prices_and_context_window.json`` (``{name: entry}``): prices per *token*
(``input_cost_per_token``, ``output_cost_per_token``, ``cache_read_input_token_cost``,
``cache_creation_input_token_cost``, the ``*_above_<N>k_tokens`` variants), windows in
``max_input_tokens``, ``max_output_tokens`` and the legacy ``max_tokens`` (litellm's
``sample_spec``: the output limit when the provider states one, else the input limit).
Entries whose ``mode`` is not a text mode (embeddings, images, audio...) are skipped.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from typing import Any

from .._errors import ConfigurationError

__all__ = ["FIRST_PARTY", "FORMAT", "Layer", "parse_catalogue"]

FORMAT = "ctxbudget-models/1"
log = logging.getLogger("ctxbudget.models")

#: name -> {ModelInfo field: value}; plus ``"_aliases"`` handled by the caller.
Layer = dict[str, dict[str, Any]]

#: Prefixes that name a model's own provider: ``openai/gpt-4o`` is OpenAI's ``gpt-4o``.
#: A host's prefix (``azure/``, ``bedrock/``, ``groq/``...) is not dropped: hosts set their
#: own prices and windows.
FIRST_PARTY = ("openai", "anthropic", "google", "gemini", "models", "mistral", "mistralai",
               "deepseek", "meta", "meta-llama", "meta_llama")  # fmt: skip

_TEXT_MODES = {None, "chat", "completion", "responses"}
_PRICES = {"input": "input_price", "output": "output_price",
           "cached_input": "cached_input_price", "cache_write": "cache_write_price"}  # fmt: skip
_LITELLM_PRICES = {
    "input_cost_per_token": "input_price",
    "output_cost_per_token": "output_price",
    "cache_read_input_token_cost": "cached_input_price",
    "cache_creation_input_token_cost": "cache_write_price",
}
_ABOVE = re.compile(r"^(?P<base>.+?)_above_(?P<k>\d+)k_tokens$")


def parse_catalogue(
    data: object, source: str, *, strict: bool = True
) -> tuple[Layer, dict[str, str]]:
    """``(layer, aliases)`` from a decoded catalogue file in either format.

    Args:
        data: the decoded JSON.
        source: where it came from (a path or a label), named in errors and in ``sources``.
        strict: ``False`` skips (and logs) a litellm entry with an invalid figure instead of
            raising: for an installed litellm's file, which the user did not write.

    Raises:
        ConfigurationError: the file is not a JSON object, or a figure is not a number of
            the right kind (the message names the source, the model and the field).
    """
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{source}: a model catalogue must be a JSON object")
    if data.get("format") == FORMAT:
        return _ours(data, source)
    return _litellm(data, source, strict), {}


def _ours(data: Mapping[str, Any], source: str) -> tuple[Layer, dict[str, str]]:
    models = data.get("models")
    if not isinstance(models, Mapping):
        raise ConfigurationError(f"{source}: 'models' must be an object of model entries")
    as_of = data.get("as_of")
    layer: Layer = {}
    aliases: dict[str, str] = {}
    for name, entry in models.items():
        where = f"{source}: model {name!r}"
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{where}: an entry must be an object")
        fields: dict[str, Any] = {"name": name}
        for key in ("provider", "as_of", "note"):
            if entry.get(key) is not None:
                fields[key] = _text(entry[key], where, key)
        fields.setdefault("as_of", as_of)
        for key in ("context_window", "max_input_tokens", "max_output_tokens"):
            if entry.get(key) is not None:
                fields[key] = _tokens(entry[key], where, key)
        for key, field in _PRICES.items():
            if entry.get(key) is not None:
                fields[field] = _price(entry[key], where, key)
        long = entry.get("long_context")
        if long is not None:
            if not isinstance(long, Mapping) or "threshold" not in long:
                raise ConfigurationError(f"{where}: long_context needs a 'threshold'")
            tier: dict[str, Any] = {
                "threshold": _tokens(long["threshold"], where, "long_context.threshold")
            }
            for key, field in _PRICES.items():
                if long.get(key) is not None:
                    tier[field] = _price(long[key], where, f"long_context.{key}")
            fields["long_context"] = tier
        sources = entry.get("sources", [])
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise ConfigurationError(f"{where}: sources must be a list of strings")
        fields["sources"] = tuple(sources)
        layer[name.lower()] = fields
        for alias in entry.get("aliases", []):
            aliases[_text(alias, where, "aliases").lower()] = name.lower()
    return layer, aliases


def _litellm(data: Mapping[str, Any], source: str, strict: bool) -> Layer:
    layer: Layer = {}
    for name, entry in data.items():
        if name == "sample_spec" or not isinstance(entry, Mapping):
            continue
        if entry.get("mode") not in _TEXT_MODES:
            continue
        try:
            layer[name.lower()] = _litellm_entry(name, entry, source)
        except ConfigurationError as exc:
            if strict:
                raise
            log.debug("ctxbudget: skipped a model of %s: %s", source, exc)
    return layer


def _litellm_entry(name: str, entry: Mapping[str, Any], source: str) -> dict[str, Any]:
    where = f"{source}: model {name!r}"
    fields: dict[str, Any] = {"name": name}
    if isinstance(entry.get("litellm_provider"), str):
        fields["provider"] = entry["litellm_provider"]
    for key, field in _LITELLM_PRICES.items():
        if entry.get(key) is not None:
            fields[field] = _per_token(entry[key], where, key)
    tier = _litellm_tier(entry, where)
    if tier is not None:
        fields["long_context"] = tier
    given = {
        key: _tokens(entry[key], where, key)
        for key in ("max_input_tokens", "max_output_tokens", "max_tokens")
        if entry.get(key) not in (None, 0)  # litellm writes 0 for "not stated"
    }
    if "max_input_tokens" in given:
        fields["max_input_tokens"] = given["max_input_tokens"]
    if "max_output_tokens" in given:
        fields["max_output_tokens"] = given["max_output_tokens"]
    elif "max_tokens" in given and "max_input_tokens" in given:
        fields["max_output_tokens"] = given["max_tokens"]  # the legacy output limit
    elif "max_tokens" in given:
        fields["max_input_tokens"] = given["max_tokens"]  # no other limit: the window
    page = entry.get("source")
    fields["sources"] = ((page,) if isinstance(page, str) else ()) + (source,)
    return fields


def _litellm_tier(entry: Mapping[str, Any], where: str) -> dict[str, Any] | None:
    """The lowest ``*_above_<N>k_tokens`` tier of a litellm entry (batch, flex and priority
    variants are other service tiers, not read)."""
    tiers: dict[int, dict[str, Any]] = {}
    for key, value in entry.items():
        match = _ABOVE.match(key)
        if match is None or match["base"] not in _LITELLM_PRICES or value is None:
            continue
        threshold = int(match["k"]) * 1000
        tier = tiers.setdefault(threshold, {"threshold": threshold})
        tier[_LITELLM_PRICES[match["base"]]] = _per_token(value, where, key)
    return tiers[min(tiers)] if tiers else None


def _text(value: object, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{where}: {key} must be a string, got {value!r}")
    return value


def _tokens(value: object, where: str, key: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(
            f"{where}: {key} must be a positive whole number of tokens, got {value!r}"
        )
    return value


def _price(value: object, where: str, key: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigurationError(
            f"{where}: {key} must be a price >= 0 in USD per 1M tokens, got {value!r}"
        )
    return float(value)


def _per_token(value: object, where: str, key: str) -> float:
    """A litellm per-token price as USD per 1M tokens, rounded to 9 decimals (per-token
    floats such as 2.5e-06 carry binary noise: 2.4999999999999996 per 1M)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ConfigurationError(
            f"{where}: {key} must be a price >= 0 in USD per token, got {value!r}"
        )
    return round(float(value) * 1_000_000, 9)
