"""The build pipeline: gather -> measure -> check -> allocate -> trim -> assemble -> verify.

:class:`ContextBuilder` orchestrates the stages; each stage is a module of plain functions over
:class:`~ctxbudget.context._parts.Part` data (``docs/architecture.md``). The promise:
``tokenizer.count(result.text) <= max_tokens``, always.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from .._errors import ConfigurationError, SectionError, StoreError
from .._telemetry import stage, traced
from .._validate import MAX_COUNT, whole_number
from ..memory import Archive, archive_from_url, reducer_from_spec
from ..models import cap_for
from ..tokenizers import CountCache, get_tokenizer
from ..typing import AsyncMemoryStore, Content, MemoryStore, Tokenizer
from ._allocation import Strategy, priority_order
from ._archiving import Archiver
from ._gather import Source, check_sources, gather, gather_async, is_content, name_of
from ._indicator import INDICATOR, budget_indicator, fill_indicator
from ._measure import MeasurementCache, token_floor
from ._options import Keep, SectionOptions, Split, merge_options, options_error
from ._parts import Part, report
from ._plan import allocate_parts, allocate_uncapped, reduce_parts
from ._presets import Preset, load_preset
from ._rendering import Layout, Template, frame_of
from ._result import BuiltContext
from ._sections import Section, default_title
from ._trimming import grow, top_up, trim, verify

__all__ = ["ContextBuilder", "build_context"]

#: Weight of a section when neither it nor a preset gives one.
NO_PRESET_WEIGHT = 1.0
#: The section that carries the budget indicator, first of all.
_INDICATOR_SECTION = "budget"
_INDICATOR_WEIGHT = 1e9
#: Most text measurements a builder keeps between builds.
_KEEP_MEASUREMENTS = 64


class ContextBuilder:
    """Builds context windows from registered memory stores and per-call sections.

    Args:
        tokenizer: a spec for :func:`~ctxbudget.get_tokenizer` or a tokenizer object
            (default ``"o200k_base"``).
        preset: a bundled preset name, a path to a preset file, a :class:`~ctxbudget.Preset`,
            or ``None`` (every section weighs 1.0 unless it says otherwise).
        max_tokens: the default cap in tokens (else the preset's; ``None``: no cap).
        template: Jinja2 assembly template text, a :class:`pathlib.Path` to one, or ``None``
            for the default (a ``## Title`` header per section, blank line between sections).
        strategy: ``"weighted"`` (shares proportional to weights, water-filling) or
            ``"strict"`` (highest priority served whole first).
        count_cache: a :class:`~ctxbudget.CountCache` to share; default a new one, kept across
            builds so unchanged items are never counted twice.
        archive: an :class:`~ctxbudget.Archive` (or its URL) that receives the items each build
            trimmed, one content-addressed block per item, each stored once however many builds
            trim it (ids in ``SectionReport.archived_ids``); the builder remembers what it put.
            A new item is counted when first archived; a block that the tokenizer's lower bound
            shows larger than the cap is not counted: it is archived with that bound, and its
            summary says "at least".
        indicator: a soft budget indicator to inject as the first, required section
            ``budget``: ``True`` for :data:`~ctxbudget.context.INDICATOR`
            (``[Context: 12,450/16,000 tokens (78%) | 3 archived blocks available]``), or a
            ``str.format`` template with ``used``, ``cap``, ``percent``, ``archived``. It is
            computed fresh on every build from the final count, itself included.
        cut_marker: text that marks an item cut at token level (counted against the cap).
        min_cut_tokens: smallest room, in tokens, worth cutting an oversized item into; with
            less room its section is dropped instead.

    Raises:
        TokenizerError: the tokenizer spec is unknown or cannot load offline.
        PresetError: the preset is unknown or invalid.
        TemplateError: the template does not parse.
        ConfigurationError: ``max_tokens``, ``min_cut_tokens`` or ``strategy`` is invalid.
    """

    def __init__(
        self,
        *,
        tokenizer: str | Tokenizer | Any = "o200k_base",
        preset: str | Path | Preset | None = None,
        max_tokens: int | None = None,
        template: str | Path | None = None,
        strategy: Strategy = "weighted",
        count_cache: CountCache | None = None,
        archive: Archive | str | None = None,
        indicator: str | bool | None = None,
        cut_marker: str = "[…]",
        min_cut_tokens: int = 16,
    ) -> None:
        self.tokenizer = get_tokenizer(tokenizer)
        self.preset = (
            preset if isinstance(preset, Preset) or preset is None else load_preset(preset)
        )
        self.max_tokens = _check_cap(max_tokens)
        self.template = Template(template)
        if strategy not in ("weighted", "strict"):
            raise ConfigurationError(f"strategy must be 'weighted' or 'strict', got {strategy!r}")
        self.strategy: Strategy = strategy
        self.count_cache = count_cache if count_cache is not None else CountCache()
        self.cut_marker = cut_marker
        self.archive = archive_from_url(archive) if isinstance(archive, str) else archive
        self.indicator: str | None = INDICATOR if indicator is True else (indicator or None)
        self.min_cut_tokens = whole_number(min_cut_tokens, "min_cut_tokens", minimum=1)
        self._stores: list[tuple[MemoryStore | AsyncMemoryStore, SectionOptions]] = []
        # Text measurements kept between builds (bounded).
        self._measurements = MeasurementCache(_KEEP_MEASUREMENTS, floor=token_floor(self.tokenizer))
        self._lock = threading.Lock()
        self._archiver = Archiver()

    def register(self, store: MemoryStore | AsyncMemoryStore, **options: Any) -> None:
        """Register a memory store; its section is gathered at every build.

        Args:
            store: an object with a ``name`` and a ``fetch()`` (sync or async).
            **options: section options (:class:`~ctxbudget.context.SectionOptions`: weight,
                min_tokens, max_tokens, required, keep, split, title, reducers); they override
                the preset's entry for ``store.name``.

        Raises:
            SectionError: the store lacks ``name``/``fetch``, its name is taken, or an option
                is invalid.
        """
        if not isinstance(store, (MemoryStore, AsyncMemoryStore)):
            raise SectionError(
                f"{store!r} is not a memory store: it needs a name and a fetch() method",
                section=str(getattr(store, "name", store)),
            )
        name = store.name
        try:
            opts = SectionOptions(**options)
        except ValidationError as exc:
            raise options_error(exc, name) from None
        if any(s.name == name for s, _ in self._stores):
            raise SectionError("a store of this name is already registered", section=name)
        self._stores.append((store, opts))

    @traced("ctxbudget.build_context")
    def build(
        self,
        sections: Mapping[str, Content] | Iterable[Source] = (),
        *,
        max_tokens: int | None = None,
    ) -> BuiltContext:
        """Gather every registered store plus ``sections``, and assemble them within the cap.

        Args:
            sections: extra sections for this build: a mapping of name to content, or
                :class:`~ctxbudget.Section` objects and memory stores.
            max_tokens: the cap for this build in tokens (default: the builder's, then the
                preset's; ``None`` everywhere means no cap).

        Returns:
            A :class:`~ctxbudget.BuiltContext` whose ``tokens`` never exceed the cap.

        Raises:
            RequiredSectionsExceedCap: required sections alone exceed the cap.
            BudgetError: the cap cannot hold even the template's own text.
            StoreError: the store of a required section raised (the cause is chained).
            SectionError: a section is invalid or two share a name.
            TemplateError: the template fails to render.
        """
        sources = self._sources(sections)
        gathered = gather(sources)
        return self._build(sources, gathered, max_tokens)

    @traced("ctxbudget.build_context")
    async def abuild(
        self,
        sections: Mapping[str, Content] | Iterable[Source] = (),
        *,
        max_tokens: int | None = None,
    ) -> BuiltContext:
        """Like :meth:`build`, gathering stores concurrently (sync stores run in threads).

        Raises:
            CtxBudgetError: the same errors as :meth:`build`.
        """
        sources = self._sources(sections)
        gathered = await gather_async(sources)
        return self._build(sources, gathered, max_tokens)

    # -- gather ----------------------------------------------------------------------------

    def _sources(self, sections: Mapping[str, Content] | Iterable[Source]) -> list[Source]:
        base: list[Source] = [store for store, _ in self._stores]
        if self.indicator is not None:
            base.append(
                Section(
                    name=_INDICATOR_SECTION,
                    content=[self._indicator_text(10**9, 10**9)],  # the widest it can get
                    required=True,
                    weight=_INDICATOR_WEIGHT,
                    title="Budget",
                )
            )
        return check_sources(base, sections)

    def _options(self, source: Source, name: str) -> dict[str, Any]:
        """The section's options: its own, then register()'s, then the preset's entry, then
        the preset's ``default_weight`` (1.0 without a preset)."""
        own = source if isinstance(source, Section) else None
        registered = next((o for s, o in self._stores if s is source), None)
        preset = self.preset.sections.get(name) if self.preset is not None else None
        opts = merge_options(own, registered, preset)
        if "weight" not in opts:
            opts["weight"] = self.preset.default_weight if self.preset else NO_PRESET_WEIGHT
        return opts

    def _part(self, source: Source, content: Content | BaseException, cap: int | None) -> Part:
        name = name_of(source)
        opts = self._options(source, name)
        title = opts.get("title")
        part = Part(
            name=name,
            title=title if title is not None else default_title(name),
            weight=float(opts["weight"]),
            required=bool(opts.get("required")),
            min_tokens=opts.get("min_tokens"),
            max_tokens=opts.get("max_tokens"),
            reducers=[reducer_from_spec(spec, name) for spec in opts.get("reducers") or ()],
        )
        if isinstance(content, BaseException) or not is_content(content):
            if isinstance(content, BaseException):
                part.error = f"{type(content).__name__}: {content}"
            else:
                part.error = (
                    f"TypeError: fetch() returned {type(content).__name__}, "
                    f"expected a str or a sequence of str"
                )
            if part.required:
                raise StoreError(f"required store failed: {part.error}", section=name) from (
                    content if isinstance(content, BaseException) else None
                )
            return part
        split: Split = opts.get("split") or "lines"
        keep: Keep = opts.get("keep") or "end"
        part.measured = self._measurements.checkout(
            name, content, split=split, keep=keep, count=self._counter(), ceiling=cap
        )
        return part

    def _counter(self) -> Callable[[str], int]:
        """Counts through the builder's cache (pieces with inner lines by their lines, so the
        assembled text's count finds them again)."""
        cache, tokenizer = self.count_cache, self.tokenizer
        return lambda text: cache.count_piece(tokenizer, text)

    # -- the pipeline ----------------------------------------------------------------------

    @stage("measure")
    def _build(
        self,
        sources: Sequence[Source],
        gathered: Sequence[Content | BaseException],
        max_tokens: int | None,
    ) -> BuiltContext:
        cap = _check_cap(max_tokens)
        if cap is None:
            cap = self.max_tokens
        if cap is None and self.preset is not None:
            cap = self.preset.max_tokens
        parts = [self._part(s, c, cap) for s, c in zip(sources, gathered, strict=True)]
        try:
            return self._run(parts, cap)
        finally:
            self._measurements.checkin(p.measured for p in parts)

    @stage("fit")
    def _run(self, parts: list[Part], cap: int | None) -> BuiltContext:
        weights = {p.name: p.weight for p in parts}
        by_name = {p.name: p for p in parts}
        order = [by_name[name] for name in priority_order(list(by_name), weights)]
        # measure: the first item of each section tells which sections are present at all
        live = [p for p in order if p.measured is not None and p.measured.measure_items(1)]
        for p in live:
            if p.required:
                p.m.measure_all()
        base = self._frame(live)
        if cap is None:
            allocate_uncapped(live)
        else:
            allocate_parts(live, cap - base, cap, base, self.strategy)
            if reduce_parts(live, self.tokenizer, self._counter()):
                allocate_parts(live, cap - base, cap, base, self.strategy)
            trim(
                live,
                tokenizer=self.tokenizer,
                marker=self.cut_marker,
                min_cut_tokens=self.min_cut_tokens,
            )
            # Tokens left by whole-item trimming go to the highest priorities first.
            grow(live, cap - base - sum(p.used for p in live), self.strategy)
        text, tokens = self._assemble(live)
        if cap is not None:
            text, tokens = verify(live, text, tokens, cap, assemble=self._assemble)
            text, tokens = top_up(
                live, text, tokens, cap, assemble=self._assemble, strategy=self.strategy
            )
            text, tokens = self._fill_indicator(live, text, tokens, cap)
        reports = tuple(report(p) for p in order)
        if self.archive is not None:
            self._archiver.archive(reports, self.archive, self.tokenizer, ceiling=cap)
        return BuiltContext(
            text=text,
            tokens=tokens,
            max_tokens=cap,
            tokenizer=self.tokenizer.name,
            approximate=bool(getattr(self.tokenizer, "approximate", False)),
            sections=reports,
        )

    def _assemble(self, live: list[Part]) -> tuple[str, int]:
        views = [p.view(self.cut_marker) for p in live if p.kept or p.cut is not None]
        text = self.template.render(views)
        return text, self.count_cache.count_text(self.tokenizer, text)

    def _frame(self, live: list[Part]) -> int:
        """Tokens of the template's own text; sets each section's header cost. Measured once
        per process for each template, tokenizer and layout (names, titles, weights)."""
        layout: Layout = tuple((p.name, p.title, p.weight, p.required) for p in live)
        base, headers = frame_of(self.template, layout, self.tokenizer.name, self._counter())
        for p, header in zip(live, headers, strict=True):
            p.header = header
        return base

    def _indicator_text(self, used: int, cap: int, live: Sequence[Part] = ()) -> str:
        if self.archive is None:
            return budget_indicator(used, cap, 0, self.indicator or "")
        # This build's blocks count too: what ``live`` lost so far is archived before counting.
        self._archiver.archive([report(p) for p in live], self.archive, self.tokenizer, ceiling=cap)
        return budget_indicator(used, cap, len(self.archive), self.indicator or "")

    def _fill_indicator(
        self, live: list[Part], text: str, tokens: int, cap: int
    ) -> tuple[str, int]:
        part = next((p for p in live if p.name == _INDICATOR_SECTION), None)
        if part is None or self.indicator is None:
            return text, tokens
        return fill_indicator(
            part,
            live,
            text,
            tokens,
            cap,
            line=lambda used, cap: self._indicator_text(used, cap, live),
            count=self._counter(),
            assemble=self._assemble,
        )


def build_context(
    sections: Mapping[str, Content] | Iterable[Source],
    *,
    max_tokens: int | Literal["model"] | None = None,
    tokenizer: str | Tokenizer | Any = "o200k_base",
    preset: str | Path | Preset | None = None,
    template: str | Path | None = None,
    strategy: Strategy = "weighted",
    model: str | None = None,
) -> BuiltContext:
    """Assemble ``sections`` into one context window of at most ``max_tokens`` tokens.

    The one-call form of :class:`ContextBuilder` (see it for every argument): gather, measure,
    check, allocate by priority weight, trim the lowest priorities' oldest items, assemble the
    highest priority first, and verify the exact count.

    Args:
        sections: a mapping of section name to content (text, or items oldest first), or
            :class:`~ctxbudget.Section` objects and memory stores.
        max_tokens: the cap in tokens; ``None`` takes the preset's, else includes everything;
            ``"model"``: ``model``'s window from the model catalogue (:mod:`ctxbudget.models`).
        tokenizer: the tokenizer spec or object that measures the cap.
        preset: weights and options per section name.
        template: the Jinja2 assembly template.
        strategy: ``"weighted"`` or ``"strict"``.
        model: the model, for ``max_tokens="model"``.

    Returns:
        A :class:`~ctxbudget.BuiltContext`; ``tokenizer.count(result.text) <= max_tokens``.

    Raises:
        CtxBudgetError: as for :class:`ContextBuilder` (RequiredSectionsExceedCap, BudgetError,
            StoreError, SectionError, TokenizerError, PresetError, TemplateError).
        ConfigurationError: the cap is invalid, or ``"model"`` names no known model.

    >>> r = build_context({"facts": "sky is blue\\ngrass is green"}, max_tokens=100)
    >>> r.text
    '## Facts\\nsky is blue\\ngrass is green'
    """
    builder = ContextBuilder(
        tokenizer=tokenizer, preset=preset, template=template, strategy=strategy
    )
    return builder.build(sections, max_tokens=cap_for(max_tokens, model))  # type: ignore[arg-type]


def _check_cap(max_tokens: object) -> int | None:
    if max_tokens is None:
        return None
    return whole_number(max_tokens, "max_tokens", unit="tokens", maximum=MAX_COUNT)
