"""The model catalogue: context windows, output limits and prices of current models of OpenAI,
Anthropic, Google, Meta, Mistral and DeepSeek, shipped as package data with the source and the
date of each figure, and overridable by JSON files in litellm's format.

>>> from ctxbudget.models import get_model, window_for
>>> window_for("gpt-4.1")
1047576
>>> get_model("anthropic/claude-opus-4-5").cache_write_price
6.25

Windows are tokens; prices are US dollars per million tokens. A figure no source states is
``None``, never guessed; an unknown model is ``None`` from :func:`get_model`, and its cost in a
:class:`~ctxbudget.SessionBudget` is unknown (``calls_unpriced``), never $0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy

if TYPE_CHECKING:
    from ._catalogue import (
        CATALOGUE_ENV,
        LITELLM_ENV,
        Catalogue,
        bundled_catalogue,
        cap_for,
        default_catalogue,
        get_model,
        load_catalogue,
        window_for,
    )
    from ._info import LongContextPrices, ModelInfo

__all__ = [
    "CATALOGUE_ENV",
    "LITELLM_ENV",
    "Catalogue",
    "LongContextPrices",
    "ModelInfo",
    "bundled_catalogue",
    "cap_for",
    "default_catalogue",
    "get_model",
    "load_catalogue",
    "window_for",
]

#: Module -> the names it defines that this package re-exports, imported on first use.
_EXPORTS = {
    "._catalogue": (
        "CATALOGUE_ENV",
        "LITELLM_ENV",
        "Catalogue",
        "bundled_catalogue",
        "cap_for",
        "default_catalogue",
        "get_model",
        "load_catalogue",
        "window_for",
    ),
    "._info": ("LongContextPrices", "ModelInfo"),
}
__getattr__, __dir__ = _lazy.attach(__name__, _EXPORTS, globals())
