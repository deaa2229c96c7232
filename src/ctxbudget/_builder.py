"""The build pipeline: gather -> measure -> check -> allocate -> trim -> assemble -> verify.

See ``docs/algorithm.md`` for the steps in prose. The promise:
``tokenizer.count(result.text) <= max_tokens``, always.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._allocation import Strategy, allocate, priority_order
from ._archive import Archive, archive_from_url
from ._counting import CountCache
from ._errors import BudgetError, RequiredSectionsExceedCap, SectionError, StoreError
from ._presets import Preset, load_preset
from ._reducers import Reducer, Reduction, reducer_from_spec
from ._rendering import SectionView, Template
from ._result import BuiltContext, SectionReport, Status
from ._sections import Keep, Section, Split, check_options, default_title, item_spans
from ._tokenizers import get_tokenizer
from ._trimming import Cut, MeasuredSection, cut_item
from .typing import AsyncMemoryStore, Content, MemoryStore, Tokenizer

__all__ = ["ContextBuilder", "build_context"]

#: Weight of a section when neither it nor a preset gives one.
NO_PRESET_WEIGHT = 1.0
#: The section that carries the budget indicator, first of all.
_INDICATOR_SECTION = "budget"
_INDICATOR_WEIGHT = 1e9
#: Bounds on what a builder keeps between builds.
_KEEP_MEASUREMENTS = 64
_KEEP_FRAMES = 256
#: Body of each section when measuring what the template adds around it.
_PLACEHOLDER = "x"
#: How far, in tokens, an item's estimate may exceed the exact room and still be tried.
_TOP_UP_TOLERANCE = 2

Source = Section | MemoryStore | AsyncMemoryStore


@dataclass(frozen=True)
class _Options:
    weight: float | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    required: bool | None = None
    keep: Keep | None = None
    split: Split | None = None
    title: str | None = None
    reducers: Sequence[Any] | None = None


@dataclass
class _Part:
    """One section as the pipeline sees it."""

    name: str
    title: str
    weight: float
    required: bool
    min_tokens: int | None
    max_tokens: int | None
    measured: MeasuredSection | None = None  # None: its store failed
    error: str | None = None
    header: int = 0
    allocated: int = 0
    kept: int = 0
    cut: Cut | None = None
    reducers: list[tuple[str, Reducer]] = field(default_factory=list)
    reductions: list[Reduction] = field(default_factory=list)

    @property
    def used(self) -> int:
        if self.cut is not None:
            return self.header + self.cut.tokens
        if self.kept == 0 or self.measured is None:
            return 0
        return self.header + self.measured.cumulative[self.kept]

    def view(self, marker: str) -> SectionView:
        assert self.measured is not None
        return SectionView(
            name=self.name,
            title=self.title,
            body=self.measured.body(self.kept, self.cut, marker),
            weight=self.weight,
            required=self.required,
        )


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
        archive: an :class:`~ctxbudget.Archive` (or its URL) that receives, after every build,
            the items each section lost, one block per section (its id in
            ``SectionReport.archived_id``). Archiving counts the removed text, so its cost grows
            with what was trimmed; leave it ``None`` when that is large and not wanted.
        indicator: a soft budget indicator to inject as the first, required section
            ``budget``: ``True`` for :data:`~ctxbudget._compaction.INDICATOR`
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
        BudgetError: ``max_tokens`` or ``min_cut_tokens`` is not a whole number >= 0.
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
            raise BudgetError(f"strategy must be 'weighted' or 'strict', got {strategy!r}")
        self.strategy: Strategy = strategy
        self.count_cache = count_cache if count_cache is not None else CountCache()
        self.cut_marker = cut_marker
        self.archive = archive_from_url(archive) if isinstance(archive, str) else archive
        if indicator is True:
            from ._compaction import INDICATOR

            indicator = INDICATOR
        self.indicator: str | None = indicator or None
        if (
            isinstance(min_cut_tokens, bool)
            or not isinstance(min_cut_tokens, int)
            or (min_cut_tokens < 1)
        ):
            raise BudgetError(f"min_cut_tokens must be a whole number >= 1, got {min_cut_tokens!r}")
        self.min_cut_tokens = min_cut_tokens
        self._stores: list[tuple[MemoryStore | AsyncMemoryStore, _Options]] = []
        # Work kept between builds, both bounded: header costs per layout, and the lazy
        # measurement of text sections, reused when a section's text is the very same str
        # object again (strings are immutable). A build checks a measurement out, so two
        # concurrent builds never share one.
        self._frames: dict[tuple[tuple[str, str, float, bool], ...], tuple[int, list[int]]] = {}
        self._measurements: OrderedDict[tuple[str, int, str, str], MeasuredSection] = OrderedDict()
        self._lock = threading.Lock()

    def register(
        self,
        store: MemoryStore | AsyncMemoryStore,
        *,
        weight: float | None = None,
        min_tokens: int | None = None,
        max_tokens: int | None = None,
        required: bool | None = None,
        keep: Keep | None = None,
        split: Split | None = None,
        title: str | None = None,
    ) -> None:
        """Register a memory store; its section is gathered at every build.

        Options override the preset's entry for ``store.name`` (see :class:`~ctxbudget.Section`).

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
        check_options(
            name,
            weight=weight,
            min_tokens=min_tokens,
            max_tokens=max_tokens,
            required=required,
            keep=keep,
            split=split,
            title=title,
        )
        if any(s.name == name for s, _ in self._stores):
            raise SectionError("a store of this name is already registered", section=name)
        self._stores.append(
            (store, _Options(weight, min_tokens, max_tokens, required, keep, split, title))
        )

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
        if any(_is_async(s) for s in sources):
            raise SectionError(
                "async memory stores need `await builder.abuild(...)`",
                section=next(_name(s) for s in sources if _is_async(s)),
            )
        gathered = [self._gather_sync(s) for s in sources]
        return self._build(sources, gathered, max_tokens)

    async def abuild(
        self,
        sections: Mapping[str, Content] | Iterable[Source] = (),
        *,
        max_tokens: int | None = None,
    ) -> BuiltContext:
        """Like :meth:`build`, gathering stores concurrently (sync stores run in threads).

        Raises:
            The same errors as :meth:`build`.
        """
        sources = self._sources(sections)

        async def one(source: Source) -> Content | BaseException:
            if isinstance(source, Section):
                return source.content
            try:
                if _is_async(source):
                    return await source.fetch()  # type: ignore[misc, no-any-return]
                return await asyncio.to_thread(source.fetch)  # type: ignore[arg-type]
            except Exception as exc:
                return exc

        gathered = await asyncio.gather(*(one(s) for s in sources))
        return self._build(sources, list(gathered), max_tokens)

    # -- gather ----------------------------------------------------------------------------

    def _sources(self, sections: Mapping[str, Content] | Iterable[Source]) -> list[Source]:
        sources: list[Source] = [store for store, _ in self._stores]
        if self.indicator is not None:
            sources.append(
                Section(
                    name=_INDICATOR_SECTION,
                    content=[self._indicator_text(10**9, 10**9)],  # the widest it can get
                    required=True,
                    weight=_INDICATOR_WEIGHT,
                    title="Budget",
                )
            )
        if isinstance(sections, Mapping):
            sources += [Section(name=str(k), content=v) for k, v in sections.items()]
        else:
            for item in sections:
                if not isinstance(item, (Section, MemoryStore, AsyncMemoryStore)):
                    raise SectionError(
                        f"expected a Section or a memory store, got {type(item).__name__}",
                        section=str(getattr(item, "name", item)),
                    )
                sources.append(item)
        seen: set[str] = set()
        for source in sources:
            name = _name(source)
            if name in seen:
                raise SectionError("two sections share this name", section=name)
            seen.add(name)
        return sources

    @staticmethod
    def _gather_sync(source: Source) -> Content | BaseException:
        if isinstance(source, Section):
            return source.content
        try:
            return source.fetch()  # type: ignore[return-value]
        except Exception as exc:
            return exc

    def _options(self, source: Source) -> _Options:
        registered = next((o for s, o in self._stores if s is source), _Options())
        preset = self.preset.spec(_name(source)) if self.preset is not None else None
        own = (
            _Options(
                source.weight,
                source.min_tokens,
                source.max_tokens,
                source.required,
                source.keep,
                source.split,
                source.title,
                source.reducers,
            )
            if isinstance(source, Section)
            else registered
        )

        def pick(field: str) -> Any:
            value = getattr(own, field)
            if value is None and preset is not None:
                value = getattr(preset, field)
            return value

        return _Options(*(pick(f) for f in _Options.__dataclass_fields__))

    def _part(self, source: Source, content: Content | BaseException) -> _Part:
        name = _name(source)
        opts = self._options(source)
        weight = opts.weight if opts.weight is not None else NO_PRESET_WEIGHT
        part = _Part(
            name=name,
            title=opts.title if opts.title is not None else default_title(name),
            weight=float(weight),
            required=bool(opts.required),
            min_tokens=opts.min_tokens,
            max_tokens=opts.max_tokens,
            reducers=[reducer_from_spec(spec, name) for spec in opts.reducers or ()],
        )
        if isinstance(content, BaseException) or not _is_content(content):
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
        split, keep = opts.split or "lines", opts.keep or "end"
        measured = self._checkout(name, content, split, keep)
        if measured is None:
            measured = MeasuredSection(name, content, split=split, keep=keep, count=self._counter())
        part.measured = measured
        return part

    def _counter(self) -> Callable[[str], int]:
        """Counts through the builder's cache."""
        cache, tokenizer = self.count_cache, self.tokenizer
        return lambda text: cache.count(tokenizer, text)

    def _checkout(
        self, name: str, content: Content, split: str, keep: str
    ) -> MeasuredSection | None:
        if not isinstance(content, str):
            return None  # a sequence may have been changed in place since the last build
        with self._lock:
            measured = self._measurements.pop((name, id(content), split, keep), None)
        # The entry holds the str itself, so its id cannot have been reused meanwhile.
        return measured if measured is not None and measured.content is content else None

    def _checkin(self, parts: list[_Part]) -> None:
        with self._lock:
            for p in parts:
                m = p.measured
                if m is not None and isinstance(m.content, str):
                    self._measurements[(p.name, id(m.content), m.split, m.keep)] = m
            while len(self._measurements) > _KEEP_MEASUREMENTS:
                self._measurements.popitem(last=False)

    # -- the pipeline ----------------------------------------------------------------------

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
        parts = [self._part(s, c) for s, c in zip(sources, gathered, strict=True)]
        try:
            return self._run(parts, cap)
        finally:
            self._checkin(parts)

    def _run(self, parts: list[_Part], cap: int | None) -> BuiltContext:
        weights = {p.name: p.weight for p in parts}
        by_name = {p.name: p for p in parts}
        order = [by_name[name] for name in priority_order(list(by_name), weights)]
        # measure: the first item of each section tells which sections are present at all
        live = [p for p in order if p.measured is not None and p.measured.measure_items(1)]
        for p in live:
            if p.required:
                p.measured.measure_all()  # type: ignore[union-attr]
        base = self._frame(live)
        if cap is None:
            self._allocate_uncapped(live)
        else:
            self._allocate(live, cap - base, cap, base)
            if self._reduce(live):
                self._allocate(live, cap - base, cap, base)
            self._trim(live)
            # Tokens left by whole-item trimming go to the highest priorities first.
            self._grow(live, cap - base - sum(p.used for p in live))
        text, tokens = self._assemble(live)
        if cap is not None:
            text, tokens = self._verify(live, text, tokens, cap)
            text, tokens = self._top_up(live, text, tokens, cap)
            text, tokens = self._fill_indicator(live, text, tokens, cap)
        reports = tuple(self._report(p) for p in order)
        if self.archive is not None:
            self._send_to_archive(reports)
        return BuiltContext(
            text=text,
            tokens=tokens,
            max_tokens=cap,
            tokenizer=self.tokenizer.name,
            approximate=bool(getattr(self.tokenizer, "approximate", False)),
            sections=reports,
        )

    def _send_to_archive(self, reports: tuple[SectionReport, ...]) -> None:
        assert self.archive is not None
        for report in reports:
            for reduction in report.reductions:
                if reduction.removed:
                    report.reduction_archive_ids.append(
                        self.archive.put(
                            reduction.removed,
                            tokens=self.tokenizer.count("\n".join(reduction.removed)),
                            summary=f"{len(reduction.removed)} items removed by "
                            f"{reduction.reducer} from section {report.name}",
                            source=report.name,
                        )
                    )
            items = report.trimmed_items
            if items:
                report.archived_id = self.archive.put(
                    items,
                    tokens=self.tokenizer.count("\n".join(items)),
                    summary=f"{len(items)} items trimmed from section {report.name}",
                    source=report.name,
                )

    def _frame(self, live: list[_Part]) -> int:
        """Tokens of the template's own text; sets each section's header cost.

        Sections are rendered with a one-letter placeholder body, not an empty one: an empty
        body would let the header's newline merge with the separator after it (``"\n\n\n"``
        is one o200k token) and hide what separators cost next to real text. Results are kept
        per layout (names, titles, weights), so repeated builds render nothing here.
        """
        layout = tuple((p.name, p.title, p.weight, p.required) for p in live)
        with self._lock:
            known = self._frames.get(layout)
        if known is None:
            known = self._measure_frame(live)
            with self._lock:
                if len(self._frames) >= _KEEP_FRAMES:
                    self._frames.clear()
                self._frames[layout] = known
        base, headers = known
        for p, header in zip(live, headers, strict=True):
            p.header = header
        return base

    def _measure_frame(self, live: list[_Part]) -> tuple[int, list[int]]:
        cache, tokenizer = self.count_cache, self.tokenizer

        def count(text: str) -> int:
            return cache.count(tokenizer, text)

        def views(parts: list[_Part]) -> list[SectionView]:
            return [SectionView(p.name, p.title, _PLACEHOLDER, p.weight, p.required) for p in parts]

        render = self.template.render
        base = count(render([]))
        body = count(_PLACEHOLDER)
        alone = [count(render(views([p]))) - base - body for p in live]
        together = count(render(views(live))) - base - body * len(live) if live else 0
        # Separators appear between sections: spread what the sections together cost beyond
        # their sum evenly over all of them, rounding up (the verify step absorbs the rest).
        extra = max(0, together - sum(alone))
        per = math.ceil(extra / len(live)) if live else 0
        return base, [max(0, a) + per for a in alone]

    def _indicator_text(self, used: int, cap: int) -> str:
        from ._compaction import budget_indicator

        archived = len(self.archive) if self.archive is not None else 0
        return budget_indicator(used, cap, archived, self.indicator or "")

    def _fill_indicator(
        self, live: list[_Part], text: str, tokens: int, cap: int
    ) -> tuple[str, int]:
        """Replace the indicator's placeholder with the real numbers, which count themselves:
        settle on a fixed point (a few renders), then verify the cap again."""
        part = next((p for p in live if p.name == _INDICATOR_SECTION), None)
        if part is None or self.indicator is None:
            return text, tokens
        for _ in range(4):
            line = self._indicator_text(tokens, cap)
            part.measured = MeasuredSection(
                part.name, [line], split="lines", keep="end", count=self._counter()
            )
            part.measured.measure_all()
            part.kept = 1
            new_text, new_tokens = self._assemble(live)
            if new_tokens > cap:
                new_text, new_tokens = self._verify(live, new_text, new_tokens, cap)
            settled = new_tokens == tokens
            text, tokens = new_text, new_tokens
            if settled:
                break
        return text, tokens

    def _allocate_uncapped(self, live: list[_Part]) -> None:
        for p in live:
            m = p.measured
            assert m is not None
            limit = math.inf if p.max_tokens is None else p.max_tokens - p.header
            m.measure_until(limit)
            p.allocated = p.header + m.total if p.max_tokens is None else p.max_tokens
            self._keep_fitting(p, p.allocated - p.header)

    def _allocate(self, live: list[_Part], budget: int, cap: int, base: int) -> None:
        if budget < 0:
            raise BudgetError(
                f"the template's own text needs {base} tokens but the cap is {cap}: "
                f"raise max_tokens or shorten the template"
            )
        weights = {p.name: p.weight for p in live}
        mins = {p.name: p.min_tokens for p in live if p.min_tokens is not None}
        maxs = {p.name: p.max_tokens for p in live if p.max_tokens is not None}
        required = [p.name for p in live if p.required]
        while True:
            demands = {
                p.name: p.header + p.measured.total if p.measured.complete else None  # type: ignore[union-attr]
                for p in live
            }
            try:
                alloc = allocate(
                    budget,
                    weights,
                    demands=demands,
                    min_tokens=mins,
                    max_tokens=maxs,
                    required=required,
                    strategy=self.strategy,
                )
            except RequiredSectionsExceedCap as exc:
                raise RequiredSectionsExceedCap(
                    needed=exc.needed + base, cap=cap, sections=exc.sections
                ) from None
            grew = False
            for p in live:
                m = p.measured
                assert m is not None
                p.allocated = alloc[p.name]
                room = p.allocated - p.header
                if not m.complete and m.total <= room:
                    m.measure_until(room)
                    grew = True
            if not grew:
                return

    def _reduce(self, live: list[_Part]) -> bool:
        """Run the reducers of sections over their allocation; ``True`` if any ran."""
        ran = False
        for p in live:
            m = p.measured
            assert m is not None
            if not p.reducers or (m.complete and p.header + m.total <= p.allocated):
                continue
            content = m.content
            if isinstance(content, str):
                items = [content[s:e] for s, e in item_spans(content, m.split, reverse=False)]
            else:
                items = [item for item in content if item]
            for _, reducer in p.reducers:
                items, reduction = reducer(items, self.tokenizer)
                if reduction.removed or reduction.added:
                    p.reductions.append(reduction)
            p.measured = MeasuredSection(
                p.name, items, split=m.split, keep=m.keep, count=self._counter()
            )
            p.measured.measure_items(1)
            ran = True
        return ran

    def _keep_fitting(self, p: _Part, room: float) -> None:
        m = p.measured
        assert m is not None
        p.kept = m.fitting(int(min(room, m.total)))
        p.cut = None

    def _trim(self, live: list[_Part]) -> None:
        for p in reversed(live):  # lowest priority first
            m = p.measured
            assert m is not None
            room = p.allocated - p.header
            self._keep_fitting(p, room)
            if p.kept == 0 and room >= self.min_cut_tokens:
                p.cut = cut_item(
                    m.item(0),
                    room,
                    keep=m.keep,
                    marker=self.cut_marker,
                    tokenizer=self.tokenizer,
                )

    def _top_up(self, live: list[_Part], text: str, tokens: int, cap: int) -> tuple[str, int]:
        """Fill the room the estimates left, checked with exact counts.

        Piece-by-piece estimates may exceed the joined text's count by a token or two (a gap
        charged to the last kept item, separators spread over sections). Next items are added
        in refill order against the exact room plus ``_TOP_UP_TOLERANCE``, all at once, and
        counted once; if that goes over the cap, the most of those
        additions that fit is found by bisection, and the section whose item did not fit takes
        no part in the next round. Only top-up's own additions are undone, so it never takes
        anything the build had already kept. At most three rounds.
        """
        blocked: set[str] = set()
        for _ in range(3):
            before = [p.kept for p in live]
            room = cap - tokens + _TOP_UP_TOLERANCE
            added = self._grow(live, room, blocked=blocked)
            if not added:
                break

            def keep_first(n: int, before: list[int] = before, added: list[_Part] = added) -> None:
                for p, kept in zip(live, before, strict=True):
                    p.kept = kept
                for p in added[:n]:
                    p.kept += 1

            new_text, new_tokens = self._assemble(live)
            if new_tokens <= cap:
                text, tokens = new_text, new_tokens
                continue
            fits, over = 0, len(added)
            while over - fits > 1:
                mid = (fits + over) // 2
                keep_first(mid)
                mid_text, mid_tokens = self._assemble(live)
                if mid_tokens <= cap:
                    fits, text, tokens = mid, mid_text, mid_tokens
                else:
                    over = mid
            keep_first(fits)
            blocked.add(added[fits].name)
        return text, tokens

    def _grow(
        self, live: list[_Part], room: int, blocked: frozenset[str] | set[str] = frozenset()
    ) -> list[_Part]:
        """Add next whole items in priority order while their estimates fit ``room`` tokens.

        ``weighted`` lets a lower priority take the room when a higher one's next item is too
        large for it; ``strict`` stops at the first section that cannot grow, so a lower
        priority never keeps an item that a higher one was denied. Sections in ``blocked`` do
        not grow. Returns the sections grown, once per item added, in the order added.
        """
        added: list[_Part] = []
        for p in live:
            m = p.measured
            assert m is not None
            if p.cut is not None or p.name in blocked:
                if self.strategy == "strict":
                    break
                continue
            while not p.required and room > 0 and m.measure_items(p.kept + 1):
                step = m.cumulative[p.kept + 1] - m.cumulative[p.kept]
                if p.kept == 0:
                    step += p.header
                within_max = p.max_tokens is None or p.used + step <= p.max_tokens
                if step > room or not within_max:
                    break
                p.kept += 1
                room -= step
                added.append(p)
            if self.strategy == "strict" and not (m.complete and p.kept == m.measured):
                break
        return added

    def _assemble(self, live: list[_Part]) -> tuple[str, int]:
        views = [p.view(self.cut_marker) for p in live if p.kept or p.cut is not None]
        text = self.template.render(views)
        return text, self.count_cache.count_text(self.tokenizer, text)

    def _verify(self, live: list[_Part], text: str, tokens: int, cap: int) -> tuple[str, int]:
        """Counts are not additive across joins: trim further until the exact count fits.

        Items come off in trimming order (lowest priority first, farthest from the kept end
        first). The fewest removals that fit are found by bisection on exact counts, starting
        from the removals whose measured tokens cover the overshoot, so a few renders suffice.
        """
        if tokens <= cap:
            return text, tokens
        steps: list[tuple[_Part, int]] = []  # (part, items kept after this step)
        for p in reversed(live):
            if p.required:
                continue
            if p.cut is not None:
                steps.append((p, -1))
            else:
                steps += [(p, k) for k in range(p.kept - 1, -1, -1)]
        original = {id(p): (p.kept, p.cut) for p in live}

        def apply(removed: int) -> tuple[str, int]:
            for p in live:
                p.kept, p.cut = original[id(p)]
            for p, k in steps[:removed]:
                p.kept, p.cut = max(k, 0), None
            return self._assemble(live)

        over = tokens - cap
        guess, freed = 0, 0
        for p, k in steps:
            if freed >= over:
                break
            before = p.used
            p.kept, p.cut = max(k, 0), None
            freed += before - p.used
            guess += 1
        bad, good = 0, None
        probe = max(guess, 1)
        while good is None:
            if probe > len(steps):
                text, tokens = apply(len(steps))
                if tokens > cap:
                    raise RequiredSectionsExceedCap(
                        needed=tokens, cap=cap, sections=[p.name for p in live if p.required]
                    )
                good = len(steps)
                break
            if apply(probe)[1] <= cap:
                good = probe
            else:
                bad, probe = probe, probe * 2
        while good - bad > 1:
            mid = (bad + good) // 2
            if apply(mid)[1] <= cap:
                good = mid
            else:
                bad = mid
        return apply(good)

    @staticmethod
    def _report(p: _Part) -> SectionReport:
        m = p.measured
        if m is None:
            return SectionReport(
                name=p.name,
                title=p.title,
                priority=p.weight,
                required=p.required,
                status="failed",
                tokens_demanded=0,
                demand_exact=False,
                tokens_allocated=0,
                tokens_used=0,
                items_kept=0,
                error=p.error,
            )
        kept = 1 if p.cut is not None else p.kept
        everything = m.complete and p.cut is None and p.kept == m.measured
        status: Status
        if everything:
            status = "full"
        elif kept == 0:
            status = "dropped"
        else:
            status = "trimmed"
        return SectionReport(
            name=p.name,
            title=p.title,
            priority=p.weight,
            required=p.required,
            status=status,
            tokens_demanded=(p.header + m.total) if m.measured else 0,
            demand_exact=m.complete,
            tokens_allocated=p.allocated,
            tokens_used=p.used,
            items_kept=kept,
            cut=p.cut,
            measured=m,
            reductions=p.reductions,
        )


def build_context(
    sections: Mapping[str, Content] | Iterable[Source],
    *,
    max_tokens: int | None = None,
    tokenizer: str | Tokenizer | Any = "o200k_base",
    preset: str | Path | Preset | None = None,
    template: str | Path | None = None,
    strategy: Strategy = "weighted",
) -> BuiltContext:
    """Assemble ``sections`` into one context window of at most ``max_tokens`` tokens.

    The one-call form of :class:`ContextBuilder` (see it for every argument): gather, measure,
    check, allocate by priority weight, trim the lowest priorities' oldest items, assemble the
    highest priority first, and verify the exact count.

    Args:
        sections: a mapping of section name to content (text, or items oldest first), or
            :class:`~ctxbudget.Section` objects and memory stores.
        max_tokens: the cap in tokens; ``None`` takes the preset's, else includes everything.
        tokenizer: the tokenizer spec or object that measures the cap.
        preset: weights and options per section name.
        template: the Jinja2 assembly template.
        strategy: ``"weighted"`` or ``"strict"``.

    Returns:
        A :class:`~ctxbudget.BuiltContext`; ``tokenizer.count(result.text) <= max_tokens``.

    Raises:
        RequiredSectionsExceedCap: required sections alone exceed the cap.
        BudgetError: the cap is invalid or cannot hold the template's own text.
        StoreError: the store of a required section raised.
        SectionError: a section is invalid, or two share a name.
        TokenizerError, PresetError, TemplateError: as for :class:`ContextBuilder`.

    >>> r = build_context({"facts": "sky is blue\\ngrass is green"}, max_tokens=100)
    >>> r.text
    '## Facts\\nsky is blue\\ngrass is green'
    """
    builder = ContextBuilder(
        tokenizer=tokenizer, preset=preset, template=template, strategy=strategy
    )
    return builder.build(sections, max_tokens=max_tokens)


def _check_cap(max_tokens: object) -> int | None:
    if max_tokens is None:
        return None
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
        raise BudgetError(f"max_tokens must be a whole number of tokens >= 0, got {max_tokens!r}")
    return max_tokens


def _name(source: Source) -> str:
    return str(source.name)


def _is_async(source: Source) -> bool:
    return not isinstance(source, Section) and inspect.iscoroutinefunction(
        getattr(source, "fetch", None)
    )


def _is_content(value: object) -> bool:
    return isinstance(value, str) or (
        isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray))
    )
