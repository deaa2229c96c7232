"""Calibration from billed usage: how far a proxy tokenizer's counts are from the provider's.

For models whose tokenizer is not public (Claude 3 and later, Gemini), counts come from a
proxy. Each call through :func:`~ctxbudget.guard` with a model and reported usage gives one
sample: the provider's billed input tokens against our estimate of the same prompt.
:class:`Calibration` keeps, per model, the sums of both in the ledger (scope
``calibration:<model>``: ``input_tokens`` the billed sum, ``output_tokens`` the estimated sum,
``calls`` the samples), so every process sharing the ledger learns from every call and the
figures survive restarts. ``ratio(model)`` is billed / estimated; :meth:`Calibration.tokenizer`
scales a proxy's counts by ``max(1, ratio)`` (never down: a cap set on estimates stays safe),
rounded up, and is marked ``approximate``.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

from .._errors import ConfigurationError
from ..tokenizers import get_tokenizer
from ..typing import Tokenizer
from ._scopes import id_scope
from .ledgers import Ledger, Limit

__all__ = ["CalibratedTokenizer", "Calibration", "calibration_of", "observe_call"]

#: How long a model's calibration is kept after its last sample (90 days), in seconds.
RETENTION_S = 90 * 24 * 3600.0


class CalibratedTokenizer:
    """A tokenizer whose counts are another's scaled by ``factor`` (>= 1), rounded up.

    Count-only: it has no ``encode``/``decode`` (scaled counts are not token ids). Its name
    carries the factor, so cached counts of the plain tokenizer are never reused for it.

    Args:
        inner: the proxy tokenizer.
        factor: the scale, >= 1.
        model: the model calibrated for (for reports).
    """

    approximate = True

    def __init__(self, inner: Tokenizer, factor: float, model: str) -> None:
        if not (factor >= 1 and math.isfinite(factor)):
            raise ConfigurationError(f"a calibration factor must be >= 1, got {factor!r}")
        self.inner = inner
        self.factor = float(factor)
        self.model = model

    @property
    def name(self) -> str:
        """``"<inner>*<factor>"``, e.g. ``"o200k_base*1.2000"``."""
        return f"{self.inner.name}*{self.factor:.4f}"

    def count(self, text: str) -> int:
        """``ceil(inner.count(text) * factor)`` tokens."""
        n = self.inner.count(text)
        return math.ceil(n * self.factor - 1e-9) if self.factor != 1 else n

    def __repr__(self) -> str:
        inner, factor = self.inner.name, self.factor
        return f"CalibratedTokenizer({inner!r}, factor={factor:.4f}, model={self.model!r})"


class Calibration:
    """Per-model ratios of billed input tokens to estimated ones, kept in a ledger.

    Args:
        ledger: where samples are summed (a :class:`SessionBudget` passes its own).
        min_samples: samples needed before :meth:`ratio` is given (default 3).

    >>> from ctxbudget.session.ledgers import MemoryLedger
    >>> cal = Calibration(MemoryLedger())
    >>> for _ in range(3):
    ...     cal.observe("claude-sonnet-4", estimated=1000, billed=1200)
    >>> cal.ratio("claude-sonnet-4")
    1.2
    """

    def __init__(self, ledger: Ledger, *, min_samples: int = 3) -> None:
        self.ledger = ledger
        self.min_samples = min_samples

    @staticmethod
    def scope(model: str) -> str:
        """The ledger scope of a model's samples (the model name escaped)."""
        return id_scope("calibration", model)

    def observe(self, model: str, *, estimated: int, billed: int) -> None:
        """Add one sample: our estimate of a prompt, and the input tokens the provider billed
        for it (cached input included), both in tokens. Samples with a zero side are ignored.

        Raises:
            LedgerError: the ledger failed.
        """
        if estimated <= 0 or billed <= 0:
            return
        limit = Limit(self.scope(model), None, RETENTION_S)
        self.ledger.record([limit], billed, estimated, 0.0, 1.0)

    def samples(self, model: str) -> tuple[int, int, int]:
        """``(samples, billed tokens, estimated tokens)`` summed for ``model``."""
        record = self.ledger.status(self.scope(model))
        if record is None:
            return 0, 0, 0
        return record.calls, record.input_tokens, record.output_tokens

    def ratio(self, model: str) -> float | None:
        """Billed / estimated input tokens for ``model``, or ``None`` before ``min_samples``."""
        n, billed, estimated = self.samples(model)
        if n < self.min_samples or estimated <= 0:
            return None
        return billed / estimated

    def factor(self, model: str) -> float:
        """``max(1, ratio)``: the scale applied to the proxy's counts (1.0 before enough
        samples)."""
        ratio = self.ratio(model)
        return 1.0 if ratio is None else max(1.0, ratio)

    def tokenizer(
        self, model: str, proxy: str | Tokenizer | Any = "o200k_base"
    ) -> CalibratedTokenizer:
        """The proxy scaled by :meth:`factor` for ``model``, as a count-only tokenizer."""
        return CalibratedTokenizer(get_tokenizer(proxy), self.factor(model), model)


_BY_LEDGER: weakref.WeakKeyDictionary[Ledger, Calibration] = weakref.WeakKeyDictionary()


def calibration_of(ledger: Ledger) -> Calibration:
    """The :class:`Calibration` kept in ``ledger`` (one object per ledger; the figures live in
    the ledger, so any ``Calibration`` over the same store reads the same ratios)."""
    cal = _BY_LEDGER.get(ledger)
    if cal is None:
        cal = _BY_LEDGER[ledger] = Calibration(ledger)
    return cal


def observe_call(
    ledger: Ledger, tokenizer: Any, model: str | None, estimated: int, billed: int
) -> None:
    """Feed one call's sample when the prompt was estimated by an approximate tokenizer (a
    proxy) for a named model: what :func:`~ctxbudget.guard` does after each call."""
    if model and getattr(tokenizer, "approximate", False):
        calibration_of(ledger).observe(model, estimated=estimated, billed=billed)
