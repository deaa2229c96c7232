"""Gathering: the sources of a build (registered stores, per-call sections, the indicator) and
their content, fetched in order or concurrently. A store that raises yields its exception as
content, so the build can report the section ``failed`` (or fail, if it is required)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

from .._errors import SectionError
from ..typing import AsyncMemoryStore, Content, MemoryStore
from ._sections import Section

__all__ = [
    "Source",
    "check_sources",
    "gather",
    "gather_async",
    "is_async",
    "is_content",
    "name_of",
]

Source = Section | MemoryStore | AsyncMemoryStore


def name_of(source: Source) -> str:
    """The section name of a source."""
    return str(source.name)


def is_async(source: Source) -> bool:
    """Whether a source's ``fetch`` is a coroutine function."""
    return not isinstance(source, Section) and inspect.iscoroutinefunction(
        getattr(source, "fetch", None)
    )


def is_content(value: object) -> bool:
    """Whether a store returned a str or a sequence (of items), not bytes or anything else."""
    return isinstance(value, str) or (
        isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray))
    )


def check_sources(
    base: list[Source], sections: Mapping[str, Content] | Iterable[Source]
) -> list[Source]:
    """``base`` plus this build's ``sections``, each a :class:`Section` or a store.

    Raises:
        SectionError: an entry is neither, or two sources share a name.
    """
    sources = list(base)
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
        name = name_of(source)
        if name in seen:
            raise SectionError("two sections share this name", section=name)
        seen.add(name)
    return sources


def _fetch(source: Source) -> Content | BaseException:
    if isinstance(source, Section):
        return cast(Content, source.content)
    try:
        return source.fetch()  # type: ignore[return-value]
    except Exception as exc:
        return exc


def gather(sources: Sequence[Source]) -> list[Content | BaseException]:
    """Each source's content, in order.

    Raises:
        SectionError: a store is async (it needs :func:`gather_async`).
    """
    for source in sources:
        if is_async(source):
            raise SectionError(
                "async memory stores need `await builder.abuild(...)`", section=name_of(source)
            )
    return [_fetch(s) for s in sources]


async def gather_async(sources: Sequence[Source]) -> list[Content | BaseException]:
    """Each source's content, fetched concurrently (sync stores in worker threads)."""
    import asyncio  # here, not at module level: a sync build never pays for it (~30 ms)

    async def one(source: Source) -> Content | BaseException:
        if isinstance(source, Section):
            return cast(Content, source.content)
        try:
            if is_async(source):
                return await source.fetch()  # type: ignore[misc, no-any-return]
            return await asyncio.to_thread(source.fetch)  # type: ignore[arg-type]
        except Exception as exc:
            return exc

    return list(await asyncio.gather(*(one(s) for s in sources)))
