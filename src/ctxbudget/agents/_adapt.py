"""Opt-in adaptation: builds that learn their preset's weights from their own usage.

:class:`AdaptiveBuilder` wraps :func:`~ctxbudget.build_context`: every build runs with the
current weights and is recorded (true utilization, see
:func:`~ctxbudget.agents.fair_shares`); every ``every`` builds it applies
:func:`~ctxbudget.agents.adjust_allocations` (the reference rule) to the builds since the
last adjustment, switches to the adjusted weights, and writes them as a preset YAML that
``extends`` the original (:func:`~ctxbudget.agents.adjusted_preset_yaml`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigurationError
from ..context import Preset, build_context, list_presets, load_preset
from ..context._allocation import Strategy
from ..context._result import BuiltContext
from ._adaptive import UsageTracker, adjust_allocations, adjusted_preset_yaml

__all__ = ["AdaptiveBuilder"]


def _extends(preset: Preset) -> str:
    """How an adjusted preset file refers to ``preset``: its bundled name, or its file path."""
    if not preset.source:
        raise ConfigurationError(
            f"preset {preset.name!r} has no source file for the adjusted preset to extend; "
            f"load it with load_preset(name or path)"
        )
    stem = Path(preset.source).stem
    if stem in list_presets() and load_preset(stem).source == preset.source:
        return stem
    return str(Path(preset.source).resolve())


class AdaptiveBuilder:
    """Build contexts with a preset whose weights adapt to usage (opt-in).

    Args:
        preset: a bundled preset name, a path to a preset file, or a loaded :class:`Preset`
            (it must come from a file: the adjusted preset extends it). Only the sections the
            preset names are adjusted; their weights are read as shares of their sum.
        tracker: the cumulative :class:`UsageTracker` every build is recorded in (a new one
            when ``None``); adjustments use only the builds since the previous adjustment.
        every: adjust after every ``every`` builds (>= 1).
        write_to: the file each adjustment writes the adjusted preset YAML to, or ``None``.
        name: the adjusted preset's name; default ``"<preset name>-adapted"``.
        tokenizer, max_tokens, template, strategy: passed to
            :func:`~ctxbudget.build_context` for every build.

    Raises:
        ConfigurationError: ``every`` is not a whole number >= 1, or the preset has no file.
        PresetError: the preset cannot be loaded.

    >>> from ctxbudget.testing import CharTokenizer
    >>> builder = AdaptiveBuilder("agent-session", every=10, tokenizer=CharTokenizer())
    >>> builder.build({"working_memory": "plan: ship"}).tokens
    28
    """

    def __init__(
        self,
        preset: str | Path | Preset,
        tracker: UsageTracker | None = None,
        *,
        every: int = 10,
        write_to: str | Path | None = None,
        name: str | None = None,
        tokenizer: Any = "o200k_base",
        max_tokens: int | None = None,
        template: str | Path | None = None,
        strategy: Strategy = "weighted",
    ) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigurationError(f"every must be a whole number >= 1 (builds), got {every!r}")
        self.original = preset if isinstance(preset, Preset) else load_preset(preset)
        self._extends = _extends(self.original)
        self.preset = self.original
        self.tracker = tracker if tracker is not None else UsageTracker()
        self.window = UsageTracker()
        self.every = every
        self.write_to = Path(write_to) if write_to is not None else None
        self.name = name or f"{self.original.name}-adapted"
        self.builds = 0
        self.adjustments = 0
        self._options: dict[str, Any] = {
            "tokenizer": tokenizer,
            "template": template,
            "strategy": strategy,
        }
        self._max_tokens = max_tokens

    @property
    def shares(self) -> dict[str, float]:
        """The current weights of the preset's named sections as percentages of their sum."""
        weights = self.preset.weights()
        total = sum(weights.values())
        return {n: 100.0 * w / total if total > 0 else 0.0 for n, w in weights.items()}

    def build(
        self,
        sections: Mapping[str, Any] | Iterable[Any],
        *,
        max_tokens: int | None = None,
    ) -> BuiltContext:
        """Build with the current weights, record the build, and adjust when it is time.

        Args:
            sections: as for :func:`~ctxbudget.build_context`.
            max_tokens: this build's cap; default the builder's, else the preset's.

        Returns:
            The build's :class:`~ctxbudget.BuiltContext` (built before any adjustment it
            triggers: the adjusted weights apply from the next build).

        Raises:
            CtxBudgetError: as :func:`~ctxbudget.build_context`.
            OSError: ``write_to`` cannot be written.
        """
        cap = max_tokens if max_tokens is not None else self._max_tokens
        result = build_context(sections, max_tokens=cap, preset=self.preset, **self._options)
        self.tracker.record(result)
        self.window.record(result)
        self.builds += 1
        if self.builds % self.every == 0:
            self.adjust()
        return result

    def adjust(self) -> dict[str, float]:
        """Apply the reference rule to the builds since the last adjustment now.

        Returns:
            section -> new share in percent (summing to 100).

        Raises:
            OSError: ``write_to`` cannot be written.
        """
        shares = adjust_allocations(self.window, self.shares)
        weights = {section: round(share / 100.0, 4) for section, share in shares.items()}
        self.preset = self.preset.model_copy(
            update={
                "name": self.name,
                "sections": {
                    section: spec.model_copy(update={"weight": weights[section]})
                    for section, spec in self.preset.sections.items()
                },
            }
        )
        if self.write_to is not None:
            self.write_to.write_text(
                adjusted_preset_yaml(self._extends, shares, name=self.name), encoding="utf-8"
            )
        self.window = UsageTracker()
        self.adjustments += 1
        return shares
