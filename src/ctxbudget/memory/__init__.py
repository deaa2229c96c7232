"""What leaves the context window, and how it leaves: reducers that shrink a section before
trimming, summarizers, and the archive that keeps every removed block retrievable.

Used by the builder (``reducers=``, ``archive=``) and by the agent-loop tools alike; this
package depends only on the tokenizers.
"""

from ._archive import (
    Archive,
    ArchivedBlock,
    MemoryArchive,
    SQLiteArchive,
    archive_from_url,
    from_json_data,
    to_json_data,
)
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
from ._summarize import TRUNCATED_MARKER, ExtractiveSummarizer, LLMSummarizer

__all__ = [
    "REDUCERS",
    "TRUNCATED_MARKER",
    "Archive",
    "ArchivedBlock",
    "ExtractiveSummarizer",
    "LLMSummarizer",
    "MemoryArchive",
    "Reducer",
    "Reduction",
    "SQLiteArchive",
    "archive_from_url",
    "check_reducer_spec",
    "dedupe",
    "evict_older_than",
    "from_json_data",
    "keep_summary_only",
    "reducer_from_spec",
    "summarize_oldest",
    "to_json_data",
]
