"""The snapshot text of a build or of a compactor's request: stable across runs and machines.

:func:`render_snapshot` turns a :class:`~ctxbudget.BuiltContext` or a :class:`CompactorRequest`
into plain text: a header (cap or window, total tokens, tokenizer), a compact allocation table,
and the assembled text (or each message) verbatim between marker lines. The text holds no
timestamps, random ids, float reprs or absolute paths; line endings are ``\\n``; every table
line has its trailing spaces removed (the assembled text keeps its own), and the text ends
with one newline. Counts are whatever the build's tokenizer said, so use a deterministic one
(:class:`~ctxbudget.testing.WordTokenizer`) for snapshots that hold on every machine.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError
from ..agents._receipts import Compaction
from ..context._result import BuiltContext, SectionReport
from ..messages import REPLY_PRIMING, message_tokens

if TYPE_CHECKING:
    from ..agents import Compactor

__all__ = ["CompactorRequest", "compactor_step", "render_snapshot"]

_STATUSES = ("full", "trimmed", "dropped", "failed")
#: A path's folders, ``/a/b/`` or ``C:\\a\\b\\``: dropped, so a file name shows without them.
_FOLDERS = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/](?:[^\\/\s:]+[\\/])+")
#: The notes of agents/_spend.py: "<Summarizer> failed (<Error>: <message>); the offline
#: summarizer wrote the summary", and the one of a budget that refused to pay for a summary.
_OFFLINE = r"(?P<tail>; the offline summarizer wrote the summary)"
_NOTE_FAILED = re.compile(rf"(?P<head>\S+ failed) \((?P<type>[A-Za-z_][\w.]*): .*\){_OFFLINE}")
_NOTE_REFUSED = re.compile(
    rf"(?P<head>the session budget could not pay for a \S+ summary) \(.*\){_OFFLINE}"
)
#: A memory address in an object's text (``<Foo object at 0x7f...>``): not the same twice.
_ADDRESS = re.compile(r"\bat 0x[0-9A-Fa-f]+")


@dataclass(frozen=True)
class CompactorRequest:
    """One request a :class:`~ctxbudget.Compactor` returned, with what it took to make it.

    Build it with :func:`compactor_step` or :meth:`of`; constructed by hand, ``tokens`` must
    have one count per message (else :class:`~ctxbudget.ConfigurationError`).

    Attributes:
        messages: the request's messages, in order (the dicts :meth:`Compactor.step` returned).
        tokens: each message's tokens (:func:`~ctxbudget.message_tokens`), aligned with
            ``messages``.
        window_tokens: the compactor's context window, in tokens.
        tokenizer: the tokenizer's name.
        compactions: the :class:`~ctxbudget.Compaction` receipts of the compactions that ran
            while this request was made, in order (``()`` when none ran).
    """

    messages: tuple[Mapping[str, Any], ...]
    tokens: tuple[int, ...]
    window_tokens: int
    tokenizer: str
    compactions: tuple[Compaction, ...] = ()

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.messages):
            raise ConfigurationError(
                f"CompactorRequest has {len(self.messages)} messages but {len(self.tokens)} "
                f"token counts: give one count per message"
            )

    @property
    def total(self) -> int:
        """Tokens of the whole request: the reply priming plus every message, as the
        compactor counts the request it checks against its window."""
        return REPLY_PRIMING + sum(self.tokens)

    @classmethod
    def of(
        cls,
        compactor: Compactor,
        messages: Sequence[Mapping[str, Any]],
        compactions: Sequence[Compaction] = (),
    ) -> CompactorRequest:
        """``messages`` (a request of ``compactor``) measured with the compactor's tokenizer.

        Raises:
            ConfigurationError: a message is malformed.
        """
        return cls(
            messages=tuple(messages),
            tokens=tuple(message_tokens(m, compactor.tokenizer) for m in messages),
            window_tokens=compactor.window_tokens,
            tokenizer=compactor.tokenizer.name,
            compactions=tuple(compactions),
        )


def compactor_step(compactor: Compactor, *messages: Mapping[str, Any]) -> CompactorRequest:
    """Run ``compactor.step(*messages)`` and return its request with the receipts of the
    compactions that step ran. The compactor's own ``on_compaction`` is still called, and is
    back in place afterwards.

    Raises:
        ConfigurationError, BudgetError, BudgetExhausted: as :meth:`Compactor.step` does.
    """
    receipts: list[Compaction] = []
    own: Callable[[Compaction], None] | None = compactor.on_compaction

    def record(receipt: Compaction) -> None:
        receipts.append(receipt)
        if own is not None:
            own(receipt)

    compactor.on_compaction = record
    try:
        request = compactor.step(*messages)
    finally:
        compactor.on_compaction = own
    return CompactorRequest.of(compactor, request, receipts)


def render_snapshot(obj: object) -> str:
    """The snapshot text of a :class:`~ctxbudget.BuiltContext` or a :class:`CompactorRequest`.

    A build shows its cap, total tokens and tokenizer, a count of sections per status, one table
    row per section (status, weight, required, tokens demanded — ``>=N`` when only a lower bound
    was counted, ``-`` for a failed section —, allocated and used, items kept and trimmed,
    whether one was cut, what reducers removed) in the build's order (highest priority first),
    the error type of failed sections (not the message, which may name local paths), and the
    assembled text. A compactor request shows its window, total and fill, a count of messages
    per role, one row per message (role, tokens), each compaction (trigger, tokens before and
    after, what was archived) with one row per strategy and its note (of a summarizer that
    failed, the error type, not the message; of a budget that refused to pay, not the budget's
    message; any other, without its paths' folders), and every message: its role, its other keys
    sorted, as JSON, and its text. In that JSON, keys of any JSON type sort as the text JSON
    writes for them, sets are lists sorted by their JSON, and an object shows its ``str``.

    Returns:
        ``str`` with ``\\n`` line endings, ending in one newline.

    Raises:
        TypeError: ``obj`` is of any other type (the message names it), or a message holds an
            object with no text that is the same in every run (object's default, or one naming
            a memory address): the message names the message, its key and the type.
    """
    if isinstance(obj, BuiltContext):
        lines = _built(obj)
    elif isinstance(obj, CompactorRequest):
        lines = _request(obj)
    else:
        kind = type(obj)
        raise TypeError(
            f"render_snapshot() takes a BuiltContext or a CompactorRequest (see "
            f"ctxbudget.testing.compactor_step), not {kind.__module__}.{kind.__qualname__}"
        )
    return "\n".join(lines) + "\n"


def _normal(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _number(value: float) -> str:
    """A weight without float noise: ``1``, ``0.5``, ``0.333333``."""
    return f"{value:.6g}"


def _stable_name(name: str) -> str:
    """A tokenizer name without the folders of a local path (``hf:/home/me/t.json`` ->
    ``hf:t.json``)."""
    return _FOLDERS.sub("", name)


def _stable_note(note: str) -> str:
    """A compaction step's note without what may differ between machines: a summarizer's
    error shows its type but not its message (``Broken failed (OSError); ...``), a refused
    payment not the budget's message; any other note loses its paths' folders."""
    note = _normal(note).replace("\n", " ")
    if failed := _NOTE_FAILED.fullmatch(note):
        return f"{failed['head']} ({failed['type']}){failed['tail']}"
    if refused := _NOTE_REFUSED.fullmatch(note):
        return f"{refused['head']} (BudgetExhausted){refused['tail']}"
    return _FOLDERS.sub("", note)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: set[int]) -> list[str]:
    """Aligned columns: those in ``left`` left-aligned (text), the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for row in [header, *rows]:
        cells = [
            cell.ljust(width) if i in left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    return out


def _counts(counter: Mapping[str, int], order: Sequence[str]) -> str:
    return ", ".join(f"{counter[key]} {key}" for key in order if counter.get(key))


def _section_row(report: SectionReport) -> list[str]:
    reduced = ",".join(f"{r.reducer}:{len(r.removed)}" for r in report.reductions)
    return [
        report.name,
        report.status,
        _number(report.priority),
        "yes" if report.required else "-",
        report.demand_text,
        str(report.tokens_allocated),
        str(report.tokens_used),
        str(report.items_kept),
        str(report.items_trimmed),
        "yes" if report.cut else "-",
        reduced or "-",
    ]


def _built(result: BuiltContext) -> list[str]:
    cap = "none" if result.max_tokens is None else f"{result.max_tokens} tokens"
    tokenizer = _stable_name(result.tokenizer) + (" (approximate)" if result.approximate else "")
    statuses: Counter[str] = Counter(r.status for r in result.sections)
    lines = [
        "ctxbudget BuiltContext",
        f"cap: {cap}  total: {result.tokens} tokens  tokenizer: {tokenizer}",
        f"sections: {_counts(statuses, _STATUSES) or 'none'}",
        "",
    ]
    if result.sections:
        header = ["section", "status", "weight", "required", "demanded", "allocated", "used"]
        header += ["kept", "trimmed", "cut", "reduced"]
        lines += _table(header, [_section_row(r) for r in result.sections], left={0, 1, 3, 9, 10})
        failed = [r for r in result.sections if r.error is not None]
        lines += [f"failed: {r.name}: {(r.error or '').partition(':')[0]}" for r in failed]
        lines.append("")
    lines += ["----- text -----", *_normal(result.text).split("\n"), "----- end of text -----"]
    return lines


def _json(value: Any, where: str) -> str:
    return json.dumps(_plain(value, where), sort_keys=True, ensure_ascii=False)


def _key(key: object, where: str) -> str:
    """A mapping key as JSON writes it, so keys of mixed types sort as text."""
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    raise _unstable(key, where)


def _plain(value: Any, where: str) -> Any:
    """``value`` with only JSON types: mappings with text keys, sets as lists sorted by their
    JSON, and other objects as their ``str`` when it is their own (not an address)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {_key(k, where): _plain(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [_plain(v, where) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    kind = type(value)
    own = any("__str__" in vars(k) or "__repr__" in vars(k) for k in kind.__mro__[:-1])
    text = str(value)
    if not own or _ADDRESS.search(text):
        raise _unstable(value, where)
    return text


def _unstable(value: object, where: str) -> TypeError:
    kind = type(value)
    return TypeError(
        f"render_snapshot(): {where}: a {kind.__module__}.{kind.__qualname__} has no text "
        f"that is the same in every run: give JSON values (str, int, float, bool, "
        f"None, lists, dicts, sets) or an object whose str() is its own"
    )


def _content(content: Any, where: str) -> list[str]:
    """The lines of a message's content: text as it is, each other part as sorted JSON."""
    if content is None:
        return []
    if isinstance(content, str):
        return _normal(content).split("\n")
    if isinstance(content, Sequence):
        out: list[str] = []
        for part in content:
            text = part.get("text") if isinstance(part, Mapping) else None
            if isinstance(text, str) and set(part) <= {"type", "text"}:
                out += _normal(text).split("\n")
            else:
                out.append(f"[part] {_json(part, where)}")
        return out
    return [_normal(_json(content, where))]


def _compaction(number: int, c: Compaction) -> list[str]:
    archived = f"{c.messages} messages archived ({c.tokens} tokens)" if c.messages else "none"
    lines = [
        f"{number}. {c.trigger}: {c.tokens_before} -> {c.tokens_after} tokens "
        f"(freed {c.freed}), {archived}, summary {c.summary_tokens} tokens"
        + (", partial" if c.partial else "")
    ]
    rows = [
        [
            s.strategy,
            *(str(n) for n in (s.tokens_before, s.tokens_after, s.freed, s.messages)),
            str(len(s.archived)),
            _stable_note(s.note) or "-",
        ]
        for s in c.steps
    ]
    header = ["strategy", "before", "after", "freed", "messages", "blocks", "note"]
    table = _table(header, rows, left={0, 6})
    return lines + [f"   {line}" for line in table]


def _request(request: CompactorRequest) -> list[str]:
    fill = 100 * request.total / request.window_tokens if request.window_tokens else 0.0
    roles = Counter(str(m.get("role")) for m in request.messages)
    lines = [
        "ctxbudget Compactor request",
        f"window: {request.window_tokens} tokens  total: {request.total} tokens ({fill:.1f}%)  "
        f"tokenizer: {_stable_name(request.tokenizer)}",
        f"messages: {len(request.messages)} ({_counts(roles, sorted(roles)) or 'none'})",
        "",
    ]
    rows = [
        [str(i), str(m.get("role")), str(tokens)]
        for i, (m, tokens) in enumerate(zip(request.messages, request.tokens, strict=True), start=1)
    ]
    lines += _table(["#", "role", "tokens"], rows, left={1})
    lines += ["", f"compactions: {len(request.compactions)}"]
    for number, compaction in enumerate(request.compactions, start=1):
        lines += _compaction(number, compaction)
    lines.append("")
    for i, message in enumerate(request.messages, start=1):
        lines.append(f"----- message {i}: {message.get('role')} -----")
        keys = {_key(k, f"message {i}"): k for k in message if k not in ("role", "content")}
        for key in sorted(keys):
            value = _json(message[keys[key]], f"message {i}, key {key!r}")
            lines.append(_normal(f"{key}: {value}").replace("\n", " "))
        lines += _content(message.get("content"), f"message {i}, key 'content'")
    lines.append("----- end of messages -----")
    return lines
