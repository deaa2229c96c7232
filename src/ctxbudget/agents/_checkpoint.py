"""A Compactor's state as JSON-ready data, and back, without replaying the history."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError
from ..memory import Archive, from_json_data, to_json_data
from ..memory._state import SummaryState
from ..typing import Summarizer

if TYPE_CHECKING:
    from ._compaction import Compactor
    from ._receipts import Compaction

__all__ = ["VERSION", "from_data", "to_data"]

#: The checkpoint format written; version 1 (a plain summary text) is still read.
VERSION = 2
#: The settings a checkpoint carries, passed back to the constructor by name.
_SETTINGS = (
    "threshold",
    "low_water",
    "keep_last_turns",
    "summary_tokens",
    "index_tokens",
    "keep_tool_results",
    "tool_result_tokens",
    "min_free_tokens",
)


def to_data(c: Compactor) -> dict[str, Any]:
    """``c``'s settings and state as JSON-ready data (see :meth:`Compactor.checkpoint`)."""
    return {
        "version": VERSION,
        "window_tokens": c.window_tokens,
        **{key: getattr(c, key) for key in _SETTINGS},
        "indicator": c.indicator,
        "summary": c.state.to_json(),
        "blocks": [dict(b) for b in c.blocks],
        "system": to_json_data([dict(m) for m in c.system]),
        "recent": to_json_data([dict(m) for m in c.recent]),
    }


def from_data(
    cls: type[Compactor],
    data: Mapping[str, Any],
    *,
    archive: Archive | str,
    summarizer: Summarizer | None,
    tokenizer: Any,
    on_compaction: Callable[[Compaction], None] | None,
) -> Compactor:
    """A compactor rebuilt from :func:`to_data`'s data (see :meth:`Compactor.recover`).

    Raises:
        ConfigurationError: not a version 1 or 2 checkpoint, a key is missing, or a setting
            is out of range (the message names it).
    """
    version = data.get("version") if isinstance(data, Mapping) else None
    if version not in (1, VERSION):
        raise ConfigurationError("not a ctxbudget compactor checkpoint (version 1 or 2)")
    missing = [k for k in ("window_tokens", "blocks", "system", "recent") if k not in data]
    if missing:
        raise ConfigurationError(f"compactor checkpoint is missing {', '.join(missing)}")
    compactor = cls(
        data["window_tokens"],
        summarizer=summarizer,
        archive=archive,
        tokenizer=tokenizer,
        indicator=data.get("indicator"),
        on_compaction=on_compaction,
        **{key: data[key] for key in _SETTINGS if key in data},
    )
    summary = data.get("summary") or ""
    compactor.state = (
        SummaryState.parse(summary) if isinstance(summary, str) else SummaryState.from_json(summary)
    )
    compactor.blocks = [dict(b) for b in data["blocks"]]
    compactor.system = from_json_data(list(data["system"]))
    compactor.recent = from_json_data(list(data["recent"]))
    return compactor
