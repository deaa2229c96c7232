"""The model catalogue: windows and prices by model name, from package data and your files.

Layers, lowest first (each changes only the figures it gives):

1. the bundled ``catalogue.json`` (sources and dates per model: ``docs/models.md``);
2. litellm's bundled ``model_prices_and_context_window_backup.json`` when the ``litellm``
   package is installed (read as a file: litellm is never imported), unless
   ``CTXBUDGET_LITELLM_CATALOGUE=off``;
3. the files named by ``CTXBUDGET_MODEL_CATALOGUE`` (paths separated by ``os.pathsep``), in
   either format;
4. what you pass: ``load_catalogue(path)``, ``SessionBudget(catalogue=...)``.

A name resolves like tiktoken's model registry: the exact name (case-insensitive), then the
name without a first-party provider prefix (``openai/gpt-4o``, ``models/gemini-2.5-pro``),
then the longest known name of which it is a dated or versioned variant
(``gpt-4o-2024-08-06`` -> ``gpt-4o``, ``claude-sonnet-4-5-20250929`` ->
``claude-sonnet-4-5``, ``gemini-2.0-flash-001`` -> ``gemini-2.0-flash``). Only a date, a
number of three or more digits, ``latest`` or ``v<N>`` may follow: ``o3-pro`` is never read as
``o3``.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from importlib import resources, util
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError
from ._formats import FIRST_PARTY, Layer, parse_catalogue
from ._info import LongContextPrices, ModelInfo

__all__ = [
    "CATALOGUE_ENV",
    "LITELLM_ENV",
    "Catalogue",
    "bundled_catalogue",
    "cap_for",
    "default_catalogue",
    "get_model",
    "load_catalogue",
    "window_for",
]

log = logging.getLogger("ctxbudget.models")

#: Extra catalogue files, laid over the bundled data (``os.pathsep``-separated paths).
CATALOGUE_ENV = "CTXBUDGET_MODEL_CATALOGUE"
#: ``off`` (or ``0``, ``false``, ``no``) stops reading an installed litellm's price file.
LITELLM_ENV = "CTXBUDGET_LITELLM_CATALOGUE"
_LITELLM_FILE = "model_prices_and_context_window_backup.json"
_VERSION_SUFFIX = re.compile(r"(?:[-@:](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3,}|latest|v\d+(?::\d+)?))+")


class Catalogue:
    """Models by name; immutable (laying a file over it returns a new catalogue).

    >>> cat = bundled_catalogue()
    >>> cat.find("gpt-4o-2024-08-06").name
    'gpt-4o'
    >>> cat.find("openai/gpt-4o").input_price
    2.5
    """

    def __init__(
        self, models: Mapping[str, ModelInfo], aliases: Mapping[str, str] | None = None
    ) -> None:
        self._models = {name.lower(): info for name, info in models.items()}
        self._aliases = {a.lower(): t.lower() for a, t in (aliases or {}).items()}

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._models)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._models))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.find(name) is not None

    def find(self, name: str | None) -> ModelInfo | None:
        """The model ``name`` resolves to (see the module docs for the rule), or ``None``."""
        key = self._resolve(name)
        return None if key is None else self._models[key]

    def _resolve(self, name: str | None) -> str | None:
        if not isinstance(name, str) or not name.strip():
            return None
        candidates = [name.strip().lower()]
        while "/" in candidates[-1] and candidates[-1].split("/", 1)[0] in FIRST_PARTY:
            candidates.append(candidates[-1].split("/", 1)[1])
        for candidate in candidates:
            key = self._exact(candidate)
            if key is not None:
                return key
        for candidate in candidates:
            matches = [
                known
                for known in (*self._models, *self._aliases)
                if candidate.startswith(known)
                and _VERSION_SUFFIX.fullmatch(candidate[len(known) :])
            ]
            if matches:
                return self._exact(max(matches, key=len))
        return None

    def _exact(self, name: str) -> str | None:
        if name in self._models:
            return name
        target = self._aliases.get(name)
        return target if target in self._models else None

    def suggestions(self, name: str, n: int = 3) -> list[str]:
        """Up to ``n`` known names closest to ``name`` (for "did you mean" messages)."""
        return difflib.get_close_matches(name.lower(), list(self._models), n=n, cutoff=0.6)

    def window_for(self, model: str) -> int:
        """The most prompt tokens one request to ``model`` may hold (:attr:`ModelInfo.window`).

        On OpenAI and Anthropic models the window is shared with the output: keep
        ``max_output_tokens`` of it free, e.g. ``max_tokens=window_for(m) - 4_000``.

        Raises:
            ConfigurationError: ``model`` is unknown (the message names the closest known
                models and how to add one) or its window is not known.
        """
        info = self.find(model)
        if info is None:
            close = self.suggestions(str(model))
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ConfigurationError(
                f"unknown model {model!r}{hint} Give the window yourself (max_tokens=...), or "
                f"add the model with a litellm-format JSON file: load_catalogue(path) or "
                f"{CATALOGUE_ENV}=path"
            )
        if info.window is None:
            raise ConfigurationError(
                f"the catalogue has no context window for {info.name!r} (no source states it); "
                f"give max_tokens yourself or add max_input_tokens in a catalogue file"
            )
        return info.window

    # -- layering --------------------------------------------------------------------------

    def overlay(
        self,
        layer: Layer,
        aliases: Mapping[str, str] | None = None,
        *,
        same_provider_only: bool = False,
    ) -> Catalogue:
        """A new catalogue with ``layer``'s figures over this one's (see :mod:`._formats`).

        An entry named with a first-party prefix (``gemini/gemini-2.5-pro``) also updates the
        model of the bare name when that model is the same provider's, and otherwise answers
        to the bare name unless another model has it. With ``same_provider_only`` an entry
        never changes a model of another provider (litellm's bare ``gemini-2.5-pro`` is
        Vertex AI's, not the Gemini API's).
        """
        models = dict(self._models)
        merged_aliases = dict(self._aliases)
        for key, fields in layer.items():
            targets = [key]
            prefix, _, rest = key.partition("/")
            if rest and prefix in FIRST_PARTY:
                bare = models.get(rest)
                if bare is None:
                    merged_aliases.setdefault(rest, key)
                elif _same_provider(bare.provider, fields.get("provider", prefix)):
                    targets.append(rest)
            for target in targets:
                old = models.get(target)
                if (
                    same_provider_only
                    and old is not None
                    and not _same_provider(old.provider, fields.get("provider"))
                ):
                    continue
                given = fields  # a model keeps its own name and provider:
                if old is not None:
                    given = {**fields, "name": old.name, "provider": old.provider}
                models[target] = _merge(old, given)
        merged_aliases.update({a.lower(): t.lower() for a, t in (aliases or {}).items()})
        return Catalogue(models, merged_aliases)

    def __repr__(self) -> str:
        return f"Catalogue({len(self)} models)"


#: litellm's provider names for the providers of the bundled catalogue.
_PROVIDERS = {"gemini": "google", "meta_llama": "meta", "codestral": "mistral",
              "text-completion-openai": "openai"}  # fmt: skip


def _same_provider(a: str | None, b: str | None) -> bool:
    """Whether two provider names are one provider (an unknown one matches any)."""
    if a is None or b is None:
        return True
    return _PROVIDERS.get(a, a) == _PROVIDERS.get(b, b)


def _merge(base: ModelInfo | None, fields: Mapping[str, Any]) -> ModelInfo:
    given = {k: v for k, v in fields.items() if v is not None and k != "sources"}
    tier = given.pop("long_context", None)
    info = replace(base, **given) if base is not None else ModelInfo(**given)
    if tier is not None:
        old = info.long_context
        if old is not None and old.threshold == tier["threshold"]:
            info = replace(info, long_context=replace(old, **tier))
        else:
            info = replace(info, long_context=LongContextPrices(**tier))
    old_sources = base.sources if base is not None else ()
    new_sources = tuple(fields.get("sources", ()))
    return replace(
        info, sources=new_sources + tuple(s for s in old_sources if s not in new_sources)
    )


# -- loading -------------------------------------------------------------------------------


def _read(path: str | os.PathLike[str], *, strict: bool = True) -> tuple[Layer, dict[str, str]]:
    label = os.fspath(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read model catalogue {label!r}: {exc}") from exc
    except ValueError as exc:
        raise ConfigurationError(f"{label}: not valid JSON: {exc}") from exc
    return parse_catalogue(data, label, strict=strict)


_bundled: Catalogue | None = None
_default: dict[tuple[str, str, str | None], Catalogue] = {}
_lock = threading.Lock()


def bundled_catalogue() -> Catalogue:
    """The catalogue shipped with ctxbudget alone (no litellm, no environment files)."""
    global _bundled  # noqa: PLW0603 - read once per process
    with _lock:
        if _bundled is None:
            text = resources.files(__package__ or "ctxbudget.models").joinpath("catalogue.json")
            data = json.loads(text.read_text(encoding="utf-8"))
            _bundled = Catalogue({}).overlay(*parse_catalogue(data, "ctxbudget catalogue.json"))
        return _bundled


def _litellm_file() -> Path | None:
    """The price file of an installed litellm, found without importing litellm."""
    if os.environ.get(LITELLM_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return None
    try:
        spec = util.find_spec("litellm")
    except (ImportError, ValueError):
        return None
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    for folder in folders:
        candidate = Path(folder) / _LITELLM_FILE
        if candidate.is_file():
            return candidate
    return None


def default_catalogue() -> Catalogue:
    """The bundled catalogue, with an installed litellm's price file and the
    ``CTXBUDGET_MODEL_CATALOGUE`` files laid over it (see the module docs).

    Read once per combination of those inputs and reused.

    Raises:
        ConfigurationError: a ``CTXBUDGET_MODEL_CATALOGUE`` file is missing or malformed.
    """
    litellm = _litellm_file()
    key = (
        os.environ.get(CATALOGUE_ENV, ""),
        os.environ.get(LITELLM_ENV, ""),
        None if litellm is None else str(litellm),
    )
    cached = _default.get(key)
    if cached is not None:
        return cached
    catalogue = bundled_catalogue()
    if litellm is not None:
        catalogue = catalogue.overlay(*_read(litellm, strict=False), same_provider_only=True)
    for path in filter(None, key[0].split(os.pathsep)):
        catalogue = catalogue.overlay(*_read(path))
    with _lock:
        _default[key] = catalogue
    return catalogue


def load_catalogue(
    path: str | os.PathLike[str], *, base: Catalogue | None = None, over_default: bool = True
) -> Catalogue:
    """A catalogue with the models of the JSON file at ``path`` laid over ``base``.

    Args:
        path: a file in litellm's ``model_prices_and_context_window.json`` format (prices
            per token) or ctxbudget's own (see :mod:`ctxbudget.models`).
        base: the catalogue to lay it over; default :func:`default_catalogue`.
        over_default: ``False`` (with no ``base``) for the file's models alone.

    Raises:
        ConfigurationError: the file cannot be read, is not JSON, or a figure is invalid
            (the message names the file, the model and the field).
    """
    if base is None:
        base = default_catalogue() if over_default else Catalogue({})
    return base.overlay(*_read(path))


def get_model(name: str | None, catalogue: Catalogue | None = None) -> ModelInfo | None:
    """The :class:`ModelInfo` of ``name`` in ``catalogue`` (default: :func:`default_catalogue`),
    or ``None`` when unknown.

    >>> get_model("claude-sonnet-4-5-20250929").cached_input_price
    0.3
    """
    return (catalogue or default_catalogue()).find(name)


def window_for(model: str, catalogue: Catalogue | None = None) -> int:
    """The most prompt tokens one request to ``model`` may hold, from the catalogue.

    See :meth:`Catalogue.window_for`.

    Raises:
        ConfigurationError: the model is unknown (with the closest names) or its window is
            not known.
    """
    return (catalogue or default_catalogue()).window_for(model)


def cap_for(max_tokens: object, model: str | None) -> object:
    """``max_tokens`` unchanged, or, for ``"model"``, ``model``'s window (:func:`window_for`).

    Raises:
        ConfigurationError: ``"model"`` without a model name, or the model is unknown.
    """
    if max_tokens != "model":
        return max_tokens
    if not isinstance(model, str):
        raise ConfigurationError("max_tokens='model' needs model='<model name>'")
    return window_for(model)
