"""The summarization trigger: act on a conversation's context *before* it overflows.

A :class:`ContextWindow` follows a conversation's live context size against the model's context
window. It predicts the size after the next turn as the current size plus the moving average of
the last turns' growth, and calls its summarization callback when the *predicted* fill reaches
the threshold (default 0.85): early enough that no request can overflow. It fires once per
crossing; after compaction brings the size back under the threshold it can fire again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .._errors import ConfigurationError
from .._validate import whole_number
from ._values import BudgetEvent

__all__ = ["ContextWindow", "Forecast"]


@dataclass(frozen=True)
class Forecast:
    """One observation of a conversation's context. Sizes in tokens.

    Attributes:
        tokens: the context size now.
        growth: predicted growth of the next turn (moving average of recent growth, >= 0).
        predicted: ``tokens + growth``.
        window: the model's context window.
        fill: ``tokens / window``.
        predicted_fill: ``predicted / window``.
        triggered: whether this observation called the summarization callback.
    """

    tokens: int
    growth: float
    predicted: float
    window: int
    fill: float
    predicted_fill: float
    triggered: bool


class ContextWindow:
    """Tracks one conversation's context size and triggers summarization before overflow.

    Args:
        window_tokens: the model's context window, in tokens.
        threshold: predicted fill (0-1] at which to trigger (default 0.85).
        turns: how many recent turns the growth average covers (default 5).
        on_trigger: called with the :class:`Forecast` when it triggers (your summarizer).

    Raises:
        ConfigurationError: a size, threshold or turn count is out of range.
    """

    def __init__(
        self,
        window_tokens: int,
        *,
        threshold: float = 0.85,
        turns: int = 5,
        on_trigger: Callable[[Forecast], None] | None = None,
    ) -> None:
        whole_number(window_tokens, "window_tokens", minimum=1)
        if not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
            raise ConfigurationError(f"threshold must be in (0, 1], got {threshold!r}")
        whole_number(turns, "turns", minimum=1)
        self.window = window_tokens
        self.threshold = float(threshold)
        self._growth: deque[int] = deque(maxlen=turns)
        self._last: int | None = None
        self._armed = True
        self.on_trigger = on_trigger

    def observe(self, tokens: int) -> Forecast:
        """Record the context size after a turn; trigger summarization if the next turn is
        predicted to reach the threshold.

        A size lower than the last one (after compaction) is not counted as growth and re-arms
        the trigger once the fill is back under the threshold.

        Raises:
            ConfigurationError: ``tokens`` is not a whole number >= 0.
            Exception: whatever ``on_trigger`` raises, after the forecast is recorded.
        """
        whole_number(tokens, "tokens")
        if self._last is not None and tokens >= self._last:
            self._growth.append(tokens - self._last)
        self._last = tokens
        growth = sum(self._growth) / len(self._growth) if self._growth else 0.0
        predicted = tokens + growth
        limit = self.threshold * self.window
        if predicted < limit:
            self._armed = True
        triggered = self._armed and predicted >= limit
        forecast = Forecast(
            tokens,
            growth,
            predicted,
            self.window,
            tokens / self.window,
            predicted / self.window,
            triggered,
        )
        if triggered:
            self._armed = False
            if self.on_trigger is not None:
                self.on_trigger(forecast)
        return forecast


def announced_window(
    conversation: str,
    scope: str,
    window_tokens: int,
    *,
    threshold: float,
    turns: int,
    summarize: Callable[[Forecast], None] | None,
    emit: Callable[[BudgetEvent], None],
) -> ContextWindow:
    """A :class:`ContextWindow` whose trigger calls ``summarize(forecast)`` and then emits
    ``summarization_triggered`` for ``scope`` (``tokens``: the predicted size).

    Raises:
        ConfigurationError: the window, threshold or turns are invalid.
    """

    def triggered(forecast: Forecast) -> None:
        if summarize is not None:
            summarize(forecast)
        emit(
            BudgetEvent(
                "summarization_triggered",
                scope,
                tokens=int(forecast.predicted),
                detail={"conversation": conversation, "forecast": forecast},
            )
        )

    return ContextWindow(window_tokens, threshold=threshold, turns=turns, on_trigger=triggered)
