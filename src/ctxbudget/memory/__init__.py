"""What leaves the context window, and how it leaves: reducers that shrink a section before
trimming, summarizers, and the archive that keeps every removed block retrievable.

Used by the builder (``reducers=``, ``archive=``) and by the agent-loop tools alike; this
package depends only on the tokenizers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _lazy

if TYPE_CHECKING:
    from ._archive import (
        Archive,
        ArchivedBlock,
        MemoryArchive,
        SQLiteArchive,
        archive_from_url,
        from_json_data,
        to_json_data,
    )
    from ._item import MemoryItem, parse_items
    from ._reducers import (
        REDUCERS,
        Reducer,
        Reduction,
        check_reducer_spec,
        dedupe,
        evict_older_than,
        keep_summary_only,
        reducer_from_spec,
        summarize_oldest,
    )
    from ._state import SummaryState
    from ._summarize import TRUNCATED_MARKER, ExtractiveSummarizer, LLMSummarizer, merge_summary

__all__ = [
    "REDUCERS",
    "TRUNCATED_MARKER",
    "Archive",
    "ArchivedBlock",
    "ExtractiveSummarizer",
    "LLMSummarizer",
    "MemoryArchive",
    "MemoryItem",
    "Reducer",
    "Reduction",
    "SQLiteArchive",
    "SummaryState",
    "archive_from_url",
    "check_reducer_spec",
    "dedupe",
    "evict_older_than",
    "from_json_data",
    "keep_summary_only",
    "merge_summary",
    "parse_items",
    "reducer_from_spec",
    "summarize_oldest",
    "to_json_data",
]

#: Module -> the names it defines that this package re-exports, imported on first use.
_EXPORTS = {
    "._archive": (
        "Archive",
        "ArchivedBlock",
        "MemoryArchive",
        "SQLiteArchive",
        "archive_from_url",
        "from_json_data",
        "to_json_data",
    ),
    "._item": ("MemoryItem", "parse_items"),
    "._reducers": (
        "REDUCERS",
        "Reducer",
        "Reduction",
        "check_reducer_spec",
        "dedupe",
        "evict_older_than",
        "keep_summary_only",
        "reducer_from_spec",
        "summarize_oldest",
    ),
    "._state": ("SummaryState",),
    "._summarize": ("TRUNCATED_MARKER", "ExtractiveSummarizer", "LLMSummarizer", "merge_summary"),
}
__getattr__, __dir__ = _lazy.attach(__name__, _EXPORTS, globals())
