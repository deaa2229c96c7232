"""What a build's sections lose, sent to the builder's archive: each distinct item once.

Every trimmed item is its own content-addressed block (:func:`ctxbudget.memory._archive.
block_id`), so a growing history that trims the same old items build after build stores each
of them once, and the same item always has the same id. A builder remembers what it has put,
so a rebuild neither hashes, counts nor stores those items again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..memory import Archive
from ..typing import Tokenizer
from ._measure import token_floor
from ._result import SectionReport

__all__ = ["Archiver"]

#: Most (section, item) ids an :class:`Archiver` remembers; past it the memo starts afresh
#: (a forgotten item is put again, which stores nothing: only its hash is recomputed).
MEMO_ITEMS = 200_000


class Archiver:
    """Puts what each section of a build lost into an archive, remembering what it put.

    Trimmed items go one block per item (content the item ``str``, source the section name);
    what a reducer removed goes one block per reduction (content the list of removed items).
    The memo maps each (section, item) already put in the current archive to its id; it is a
    shortcut only, never needed for correctness, because putting a block again returns the
    same id and stores nothing. A different archive object starts a new memo.
    """

    def __init__(self) -> None:
        self._archive: Archive | None = None
        self._items: dict[str, dict[str, str]] = {}
        self._reductions: dict[tuple[str, tuple[str, ...]], str] = {}
        self._size = 0
        self._lock = threading.Lock()

    def archive(
        self,
        reports: Sequence[SectionReport],
        archive: Archive,
        tokenizer: Tokenizer,
        *,
        ceiling: int | None = None,
    ) -> None:
        """Put what each report's section lost in ``archive``; set ``archived_ids`` (aligned
        with ``trimmed_items``), ``archived_id`` and ``reduction_archive_ids`` on the reports.

        A block is archived with its exact count in tokens of ``tokenizer``, unless the
        tokenizer's lower bound (:func:`~ctxbudget.context._measure.token_floor`) shows it
        larger than ``ceiling`` tokens (the build's cap): it is then archived with that bound,
        not counted, and its summary says "at least".

        Raises:
            ArchiveError: the archive's store failed.
        """
        floor = token_floor(tokenizer) if ceiling is not None else None

        def put(content: str | list[str], summary: str, source: str) -> str:
            text = content if isinstance(content, str) else "\n".join(content)
            bound = 0
            if floor is not None and ceiling is not None and len(text) > ceiling:
                bound = floor(text, ceiling)  # shorter text is cheap to count exactly
            if ceiling is not None and bound > ceiling:
                tokens, summary = bound, f"{summary} (at least {bound} tokens, not counted in full)"
            else:
                tokens = tokenizer.count(text)
            return archive.put(content, tokens=tokens, summary=summary, source=source)

        with self._lock:
            if archive is not self._archive or self._size > MEMO_ITEMS:
                self._archive, self._items, self._reductions, self._size = archive, {}, {}, 0
            new: dict[tuple[str, str | tuple[str, ...]], tuple[str | list[str], str]] = {}
            for rep in reports:
                known = self._items.setdefault(rep.name, {})
                for item in rep.trimmed_items:
                    if item not in known:
                        new[rep.name, item] = (item, _summary(item, rep.name))
                for r in rep.reductions:
                    if r.removed and (rep.name, tuple(r.removed)) not in self._reductions:
                        summary = f"{len(r.removed)} items removed by {r.reducer} from section"
                        new[rep.name, tuple(r.removed)] = (r.removed, f"{summary} {rep.name}")
            if new:
                with archive._transaction():  # one write for all; the memo learns after it
                    put_ids = [(key, put(c, summary, key[0])) for key, (c, summary) in new.items()]
                for (name, what), block in put_ids:
                    if isinstance(what, str):
                        self._items[name][what] = block
                        self._size += 1
                    else:
                        self._reductions[name, what] = block
                        self._size += len(what)
            for rep in reports:
                rep.archived_ids = tuple(map(self._items[rep.name].__getitem__, rep.trimmed_items))
                rep.archived_id = rep.archived_ids[0] if rep.archived_ids else None
                rep.reduction_archive_ids = [
                    self._reductions[rep.name, tuple(r.removed)]
                    for r in rep.reductions
                    if r.removed
                ]


def _summary(item: str, section: str) -> str:
    head = " ".join(item[:200].split())[:60]
    return f"item trimmed from section {section}" + (f": {head}" if head else "")
