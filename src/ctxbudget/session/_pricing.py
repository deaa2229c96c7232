"""Cost estimates: what one call costs, in US dollars, from your prices or the model catalogue.

A model is priced by your ``prices`` first (exact name, then the longest name it is a dated
variant of), then by the model catalogue (:mod:`ctxbudget.models`: bundled figures with their
sources and dates, an installed litellm's price file, ``CTXBUDGET_MODEL_CATALOGUE`` files).
Prices are US dollars per million tokens. A model neither knows, or a missing model, has no
cost: ``None``, never 0.0, so nobody reads an unpriced call as free (a
:class:`~ctxbudget.SessionBudget` counts such calls in ``BudgetStatus.calls_unpriced`` and fires
``unknown_model`` once per model).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence

from .._errors import ConfigurationError
from ..models import Catalogue, ModelInfo, bundled_catalogue, default_catalogue, load_catalogue
from ._usage import Usage
from .ledgers import Limit

__all__ = ["DEFAULT_PRICES", "PriceTable", "Pricer", "estimate_cost", "unpriced_call"]

#: model -> (USD per 1M input tokens, per 1M output tokens[, per 1M cached input tokens[,
#: per 1M cache-write tokens]]). Cached and cache-write tokens bill at the input price when
#: the entry gives no price for them.
PriceTable = Mapping[str, Sequence[float]]

_DATED = re.compile(r"(?:[-@:](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{3,}|latest|v\d+(?::\d+)?))+")


class _CataloguePrices(Mapping[str, tuple[float, float]]):
    """``(input, output)`` USD per 1M tokens of every priced model of the bundled catalogue,
    read when first used (so ``import ctxbudget`` reads no catalogue)."""

    def _prices(self) -> dict[str, tuple[float, float]]:
        catalogue = bundled_catalogue()
        out = {}
        for name in catalogue:
            info = catalogue.find(name)
            if info is not None and info.input_price is not None and info.output_price is not None:
                out[info.name] = (info.input_price, info.output_price)
        return out

    def __getitem__(self, name: str) -> tuple[float, float]:
        return self._prices()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._prices())

    def __len__(self) -> int:
        return len(self._prices())


#: ``(input, output)`` USD per 1M tokens of the bundled catalogue's priced models, for
#: reading; a budget prices calls with the whole catalogue (cached rates, long-context tiers).
DEFAULT_PRICES: Mapping[str, tuple[float, float]] = _CataloguePrices()


def check_prices(prices: PriceTable) -> dict[str, tuple[float, ...]]:
    """``prices`` as a plain dict, each entry 2 to 4 prices >= 0.

    Raises:
        ConfigurationError: naming the model and what an entry must be.
    """
    out = {}
    for model, entry in prices.items():
        values = tuple(entry) if isinstance(entry, Sequence) else ()
        if not 2 <= len(values) <= 4 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in values
        ):
            raise ConfigurationError(
                f"prices[{model!r}] must be (input, output[, cached_input[, cache_write]]) in "
                f"USD per 1M tokens, each >= 0; got {entry!r}"
            )
        out[model] = tuple(float(v) for v in values)
    return out


def _from_table(prices: Mapping[str, tuple[float, ...]], model: str) -> ModelInfo | None:
    entry = prices.get(model)
    if entry is None:
        stems = [k for k in prices if model.startswith(k) and _DATED.fullmatch(model[len(k) :])]
        if not stems:
            return None
        model = max(stems, key=len)
        entry = prices[model]
    extra = (*entry[2:], None, None)
    return ModelInfo(
        model,
        input_price=entry[0],
        output_price=entry[1],
        cached_input_price=extra[0],
        cache_write_price=extra[1],
    )


def estimate_cost(
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    prices: PriceTable | None = None,
    *,
    cached_input_tokens: int = 0,
    cache_write_tokens: int = 0,
    catalogue: Catalogue | None = None,
) -> float | None:
    """Estimated cost in US dollars of one call, or ``None`` when ``model`` is ``None`` or
    priced by neither ``prices`` nor the catalogue.

    Args:
        model: the model name (dated and provider-prefixed names resolve, see
            :mod:`ctxbudget.models`).
        input_tokens: every input token billed, cached ones included.
        output_tokens: every output token, reasoning included.
        prices: your prices (:data:`PriceTable`), consulted before the catalogue.
        cached_input_tokens, cache_write_tokens: of ``input_tokens``, those read from and
            written to a prompt cache, billed at their own rates.
        catalogue: default :func:`~ctxbudget.models.default_catalogue`.

    >>> estimate_cost("gpt-4o", 1_000, 100, cached_input_tokens=400)
    0.003
    >>> estimate_cost("my-local-model", 1_000, 100) is None
    True
    """
    if model is None:
        return None
    info = _from_table(check_prices(prices), model) if prices else None
    if info is None:
        info = (catalogue if catalogue is not None else default_catalogue()).find(model)
    if info is None:
        return None
    return info.cost(
        input_tokens,
        output_tokens,
        cached_input_tokens=cached_input_tokens,
        cache_write_tokens=cache_write_tokens,
    )


class Pricer:
    """The prices of one budget: its ``prices`` over its catalogue (a
    :class:`~ctxbudget.models.Catalogue`, a catalogue file laid over the default, or ``None``
    for the default), and which models it has already reported as unpriced (each once).

    Raises:
        ConfigurationError: a price entry is malformed, or the catalogue file cannot be read.
    """

    def __init__(
        self,
        prices: PriceTable | None,
        catalogue: Catalogue | str | os.PathLike[str] | None = None,
    ) -> None:
        self.prices = check_prices(prices or {})
        if catalogue is None:
            catalogue = default_catalogue()
        elif not isinstance(catalogue, Catalogue):
            catalogue = load_catalogue(catalogue)
        self.catalogue: Catalogue = catalogue
        self._reported: set[str | None] = set()
        self._lock = threading.Lock()

    def info(self, model: str | None) -> ModelInfo | None:
        """The prices ``model`` is billed at, or ``None`` when unknown or ``None``."""
        if model is None:
            return None
        found = _from_table(self.prices, model) if self.prices else None
        return found if found is not None else self.catalogue.find(model)

    def cost(self, model: str | None, usage: Usage) -> float | None:
        """The call's cost in US dollars, or ``None`` when its model is not priced."""
        info = self.info(model)
        if info is None:
            return None
        return info.cost(
            usage.input_tokens,
            usage.output_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        )

    def first_unpriced(self, model: str | None) -> bool:
        """``True`` the first time ``model`` is reported unpriced to this budget."""
        with self._lock:
            if model in self._reported:
                return False
            self._reported.add(model)
            return True


def unpriced_call(
    cost: float | None, model: str | None, limits: Sequence[Limit]
) -> tuple[str | None, str] | None:
    """``(model, first scope)`` of a call whose cost is unknown (``cost`` is ``None``), else
    ``None``: what ``unknown_model`` reports."""
    return (model, limits[0].scope) if cost is None and limits else None
