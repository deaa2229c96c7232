"""A Compactor's state as JSON-ready data, and back, without replaying the history."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError
from ..memory import Archive, from_json_data, to_json_data
from ..memory._state import SummaryState
from ..messages import message_tokens
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
        "window": {  # the forecast's memory, so a recovered loop compacts when this one would
            "last": c.window._last,
            "growth": list(c.window._growth),
            "armed": c.window._armed,
        },
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
    **budget: Any,
) -> Compactor:
    """A compactor rebuilt from :func:`to_data`'s data (see :meth:`Compactor.recover`);
    ``budget``: the session budget arguments of the constructor (not in checkpoints).

    Raises:
        ConfigurationError: not a version 1 or 2 checkpoint, a key is missing or of the
            wrong shape, a setting is out of range, or a message is malformed (the message
            names it).
        BudgetError: its system messages no longer leave room for a turn.
    """
    version = data.get("version") if isinstance(data, Mapping) else None
    if type(version) is not int or version not in (1, VERSION):
        raise ConfigurationError("not a ctxbudget compactor checkpoint (version 1 or 2)")
    missing = [k for k in ("window_tokens", "blocks", "system", "recent") if k not in data]
    if missing:
        raise ConfigurationError(f"compactor checkpoint is missing {', '.join(missing)}")
    for key in ("blocks", "system", "recent"):
        if not isinstance(data[key], list) or not all(isinstance(x, Mapping) for x in data[key]):
            raise ConfigurationError(f"compactor checkpoint {key!r} must be a list of objects")
    compactor = cls(
        data["window_tokens"],
        summarizer=summarizer,
        archive=archive,
        tokenizer=tokenizer,
        indicator=data.get("indicator"),
        on_compaction=on_compaction,
        **{key: data[key] for key in _SETTINGS if key in data},
        **budget,
    )
    summary = data.get("summary") or ""
    compactor.state = (
        SummaryState.parse(summary) if isinstance(summary, str) else SummaryState.from_json(summary)
    )
    compactor.blocks = [_block(b) for b in data["blocks"]]
    try:
        system, recent = from_json_data(list(data["system"])), from_json_data(list(data["recent"]))
    except (TypeError, ValueError) as exc:  # a bad {"$datetime": ...}
        raise ConfigurationError(f"compactor checkpoint has an unreadable value: {exc}") from None
    compactor.add(*system)  # checked: pins within the window
    for message in recent:
        message_tokens(message, compactor.tokenizer)  # checked like add(), not clamped again
        compactor.recent.append(message)
    _restore_window(compactor, data.get("window"))
    return compactor


def _block(value: Mapping[str, Any]) -> dict[str, Any]:
    block = dict(value)
    ok = isinstance(block.get("id"), str) and isinstance(block.get("description"), str)
    tokens = block.get("tokens")
    if not ok or type(tokens) is not int or tokens < 0:
        raise ConfigurationError(
            f"compactor checkpoint block {block!r:.80} needs an 'id' and 'description' (str) "
            f"and 'tokens' (a whole number)"
        )
    return block


def _restore_window(c: Compactor, window: Any) -> None:
    if not isinstance(window, Mapping):
        return  # version 1, or no forecast yet
    last, growth = window.get("last"), window.get("growth")
    numbers = isinstance(growth, list) and all(type(g) is int and g >= 0 for g in growth)
    if (last is not None and type(last) is not int) or not numbers:
        raise ConfigurationError("compactor checkpoint 'window' must hold whole token counts")
    c.window._last = last
    c.window._growth.extend(int(g) for g in growth or ())
    c.window._armed = bool(window.get("armed", True))
