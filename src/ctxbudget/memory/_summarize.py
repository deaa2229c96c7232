"""Summarization: shrink old items into one summary that fits a token limit.

``summarize(items, max_tokens) -> str`` makes one summary; ``merge(state, items, max_tokens)``
folds new items into the running :class:`~ctxbudget.memory.SummaryState` (the old summary is
never wrapped as an item again, so nothing nests). :func:`merge_summary` merges with any
summarizer, a plain ``summarize``-only one included.

:class:`ExtractiveSummarizer` is offline and deterministic. ``summarize`` scores sentences by
the frequency of their content words (H. P. Luhn, "The Automatic Creation of Literature
Abstracts", IBM Journal, 1958); ``merge`` classifies them and ranks one-off facts by
specificity and rarity, the opposite of Luhn's criterion. :class:`LLMSummarizer` wraps any
``(prompt: str) -> str`` callable; its output is measured and cut or fitted to the limit.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from .._errors import ConfigurationError
from .._sandbox import SandboxedTemplate
from .._validate import whole_number
from ..tokenizers import get_tokenizer, truncate
from ..tokenizers._counting import adds_up_before
from ..typing import Summarizer, Tokenizer
from ._sentences import STOPWORDS as _STOPWORDS
from ._sentences import WORD as _WORD
from ._sentences import luhn as _luhn
from ._sentences import scored_lines
from ._state import (
    HEADERS,
    IDENTIFIER,
    PARTS,
    SHARES,
    SPECIFIC,
    SummaryState,
    clean_line,
    part_of,
    specificity,
    strip_prefixes,
)

__all__ = ["DEFAULT_MERGE_PROMPT", "TRUNCATED_MARKER", "ExtractiveSummarizer", "LLMSummarizer"]
__all__ += ["merge_summary"]

#: Appended to a summary cut to its limit.
TRUNCATED_MARKER = " [summary truncated]"


def _check_limit(max_tokens: object) -> int:
    return whole_number(max_tokens, "max_tokens", unit="tokens")


#: Bounded work per merge: characters read from each item's start and end, the longest
#: sentence considered (in characters), the most sentences considered.
HEAD_CHARS, TAIL_CHARS, MAX_SENTENCE_CHARS, MAX_SENTENCES = 16_000, 4_000, 400, 4_000
#: Score bonus of a line already in the running summary (so kept facts outrank new ones).
OLD_BONUS = 2.0

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_BREAK = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")
_PUNCT = ".,;:!?()[]{}\"'*`"
_RUN_ON = re.compile(r"(?<=[a-z,]) (?=(?:My|Our|We)\b|I (?:live|work|was|am|prefer|moved)\b)")


def _bounded(text: str) -> str:
    """``text`` read within the work bounds: its start and its end, code blocks left out."""
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        text = f"{text[:HEAD_CHARS]}\n{text[-TAIL_CHARS:]}"
    return _FENCE.sub("\n", text)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``: at line breaks, and after ``.!?`` (and CJK stops) unless the next
    word starts in lower case (``a.m. on``) or the stop ends a list number (``1.``); also
    before a capitalised ``My``/``Our``/``We`` (or ``I`` + a fact cue) after a lower-case word,
    where a sentence's stop was left out (``...as a list My name is Priya``)."""
    out: list[str] = []
    for line in text.splitlines():
        start = 0
        for match in _BREAK.finditer(line):
            rest, head = line[match.end() : match.end() + 1], line[start : match.start()]
            if rest.islower() or re.fullmatch(r"\s*\d{1,3}[.)]", head):
                continue
            out.append(head)
            start = match.end()
        out.append(line[start:])
    return [" ".join(x.split()) for x in out for x in _RUN_ON.split(x) if x.strip()]


class ExtractiveSummarizer:
    """Offline, deterministic extractive summaries within a token limit.

    Items may start with a speaker (``"user: ..."``, ``"assistant: ..."``, ``"summary: ..."``);
    every selected sentence keeps its speaker prefix, so who-said-what survives. Pass the
    previous running summary as an item to merge it with the new items.

    Args:
        tokenizer: measures the limit (default ``"o200k_base"``).
    """

    def __init__(self, tokenizer: Any = "o200k_base") -> None:
        self.tokenizer = get_tokenizer(tokenizer)

    def summarize(self, items: Sequence[str], max_tokens: int) -> str:
        """The most informative sentences of ``items`` that fit ``max_tokens`` tokens.

        Returns:
            Lines ``"speaker: sentence"`` in their original order; never over ``max_tokens``
            tokens (the exact count of the returned text).

        Raises:
            ConfigurationError: ``max_tokens`` is not a whole number >= 0.
        """
        return self._summarize_counted(items, max_tokens)[0]

    def _summarize_counted(self, items: Sequence[str], max_tokens: int) -> tuple[str, int]:
        """:meth:`summarize`'s text and its exact count, in tokens. A line costs its count with
        the newline that joins it to the next; for a ``newline_additive`` tokenizer these add
        up to the text's (the last line without its newline) when every line after the first
        starts where counts add up (``tokenizers._counting.adds_up_before``)."""
        limit = _check_limit(max_tokens)
        lines, scores = scored_lines(items)
        ranked = sorted(range(len(lines)), key=lambda i: (-scores[i], i))
        count = self.tokenizer.count
        additive = bool(getattr(self.tokenizer, "newline_additive", False))
        # a line's words bound its count from below (lines hold no whitespace but single spaces)
        fewest = bool(getattr(self.tokenizer, "space_bounded", False))
        cost: dict[int, int] = {}  # a chosen line's tokens with its newline
        known: dict[str, int] = {}
        chosen: list[int] = []
        used = 0
        for i in ranked:
            # the text has one newline fewer than its lines: they may take one token more
            room = limit + 1 - used
            if room <= 0:
                break
            line = lines[i]
            # (a line has no more words than characters: split only a line that may not fit)
            if fewest and len(line) > room and len(line.split()) > room:
                continue
            tokens = known.get(line)
            if tokens is None:
                tokens = known[line] = count(f"{line}\n")
            if tokens <= room:
                chosen.append(i)
                cost[i] = tokens
                used += tokens
        chosen.sort()
        text = "\n".join(lines[i] for i in chosen)
        if not chosen:
            return text, 0
        if additive and all(adds_up_before(lines[i][:1]) for i in chosen[1:]):
            last = chosen[-1]
            total = used - cost[last] + count(lines[last])
        else:
            total = count(text)
        while chosen and total > limit:  # over (the counts did not add up): drop the weakest
            chosen.remove(min(chosen, key=lambda i: (scores[i], -i)))
            text = "\n".join(lines[i] for i in chosen)
            total = count(text)
        return text, total

    def merge(self, state: SummaryState, items: Sequence[str], max_tokens: int) -> SummaryState:
        """``state`` updated with ``items`` (``"role: text"`` lines, oldest first), fitted to
        ``max_tokens`` tokens of its rendered text.

        Each sentence is classified: a user's first-person statement with a strong cue
        (``my name is``, ``I live in``, ``I prefer``, ``allergic``, ``call me``, ``my X is``...)
        or specifics (numbers, dates, times, amounts, emails, identifiers, proper names) is a
        *fact*; ``we decided``, ``let's go with``, ``agreed``, ``we'll use``, ``chose``... a
        *decision*; a user's ``todo``, ``need to``, ``remind me``, ``next step``... or a
        question of the last user item with no reply is a *task*; proper names and identifiers
        are *entities*; the best of the rest by Luhn's frequency score is *narrative*. Facts,
        decisions and tasks rank by :func:`specificity` plus rarity (the share of their words
        that occur once in ``items``); a line already in ``state`` gets :data:`OLD_BONUS`
        instead of rarity, so kept facts outrank new generic lines.

        Bounded work: each item is read from its first :data:`HEAD_CHARS` and last
        :data:`TAIL_CHARS` characters, fenced code blocks are skipped, sentences over
        :data:`MAX_SENTENCE_CHARS` characters are ignored, and at most :data:`MAX_SENTENCES`
        sentences (the newest) are considered.

        Raises:
            ConfigurationError: ``max_tokens`` is not a whole number >= 0, or ``state`` is not
                a :class:`SummaryState`.
        """
        limit = _check_limit(max_tokens)
        if not isinstance(state, SummaryState):
            raise ConfigurationError(f"state must be a SummaryState, got {type(state).__name__}")
        found: list[tuple[str, str, bool]] = []  # (speaker, sentence, an unanswered question)
        for position, item in enumerate(items):
            speaker, body = strip_prefixes(item)
            last = position == len(items) - 1 and speaker in ("user", "human")
            sentences = split_sentences(_bounded(body))
            found += [(speaker, x, last) for x in sentences if len(x) <= MAX_SENTENCE_CHARS]
        found = found[-MAX_SENTENCES:]
        frequency = Counter(w for _, x, _ in found for w in _WORD.findall(x.lower()))
        new: dict[str, list[str]] = {p: [] for p in PARTS}
        score: dict[str, float] = {}
        for speaker, sentence, last in found:
            words = [w for w in _WORD.findall(sentence.lower()) if w not in _STOPWORDS]
            part = part_of(speaker, sentence, last_question=last)
            if part is None or not (words or SPECIFIC.search(sentence)):
                continue
            line = clean_line(f"{speaker}: {sentence}" if speaker and part != "facts" else sentence)
            rare = sum(frequency[w] == 1 for w in words) / (len(words) or 1)
            score[line] = specificity(line) + 2.0 * rare
            if part == "facts" and score[line] < 2.5:  # a weak fact is told as what happened
                part, line = "narrative", clean_line(f"{speaker}: {sentence}")
            new[part].append(line)
        kept = {w.strip(_PUNCT) for p in PARTS[:3] for x in new[p] for w in x.split()}
        names = Counter(
            w.strip(_PUNCT)
            for _, x, _ in found
            for w in x.split()[1:]
            if w.strip(_PUNCT)[:1].isupper() or IDENTIFIER.fullmatch(w.strip(_PUNCT))
        )
        new["entities"] = [  # a capitalised word also seen in lower case is a common word
            w
            for w, _ in names.most_common(48)
            if len(w) > 2 and w not in kept and (w.isupper() or w.lower() not in frequency)
        ][:12]
        score.update({w: 1.0 + min(2.0, names[w] / 3) for w in new["entities"]})
        leftovers, strength = new["narrative"], _luhn(new["narrative"])
        count, chosen = self.tokenizer.count, set()
        # narrative: what the other parts leave (>= its share); fit() drops its oldest first
        others = sum(count(x) + 2 for p in PARTS[:4] for x in (*getattr(state, p), *new[p]))
        room = max(int(limit * SHARES["narrative"]), limit - others - 40)
        for i in sorted(range(len(leftovers)), key=lambda i: (-strength(leftovers[i]), i)):
            cost = count(leftovers[i]) + 2
            if room > 2 and 3 <= len(leftovers[i].split()) <= 40 and cost <= room:
                chosen.add(i)
                room -= cost
        new["narrative"] = [x for i, x in enumerate(leftovers) if i in chosen]
        for part in PARTS[:3]:  # bounded: the best 32 new lines of each part, in order
            best = set(sorted(new[part], key=lambda x: -score[x])[:32])
            new[part] = [x for x in new[part] if x in best]
        old = set(state.lines())
        merged = SummaryState(**{p: (*getattr(state, p), *new[p]) for p in PARTS})

        def rank(part: str, line: str) -> float:
            if line in old:
                return specificity(line) + OLD_BONUS
            return score.get(line, specificity(line))

        return merged.fit(limit, self.tokenizer, rank=rank)


#: The default prompt of :class:`LLMSummarizer` (items are data, never template source).
DEFAULT_PROMPT = (
    "Summarize the conversation below in at most {{ max_tokens }} tokens. Keep who said what, "
    "decisions, facts and open questions.\n\n"
    "{% for item in items %}{{ item }}\n{% endfor %}"
)


#: The default merge prompt of :class:`LLMSummarizer` (``previous`` is the rendered state).
DEFAULT_MERGE_PROMPT = (
    "You keep the running summary of a conversation. Update it with the new messages below, "
    "in at most {{ max_tokens }} tokens. Keep every fact and preference the user stated "
    "(names, numbers, dates, times, places, allergies, ids, amounts), every decision and every "
    "open task; keep what happened short. Answer with the updated summary only, in this "
    "format: each header on its own line, then one '- ' line per item; leave out empty "
    "sections.\n\n"
    "{% for header in headers %}{{ header }}\n- ...\n\n{% endfor %}"
    "Previous summary:\n{{ previous or '(none)' }}\n\n"
    "New messages:\n{% for item in items %}{{ item }}\n{% endfor %}"
)


class LLMSummarizer:
    """Summaries written by a language model: any ``(prompt) -> text`` callable.

    The prompt is rendered from a sandboxed Jinja2 template with ``items`` and ``max_tokens``.
    The output is measured with the tokenizer. When it is over ``max_tokens``, it is cut to its
    longest start that fits with :data:`TRUNCATED_MARKER` appended (both counted; whole
    characters; any tokenizer, count-only included). Errors raised by the callable propagate.

    Args:
        call: sends a prompt to the model and returns its text.
        template: Jinja2 template text (default :data:`DEFAULT_PROMPT`).
        tokenizer: measures the limit.
    """

    def __init__(
        self,
        call: Callable[[str], str],
        *,
        template: str = DEFAULT_PROMPT,
        merge_template: str = DEFAULT_MERGE_PROMPT,
        tokenizer: Any = "o200k_base",
    ) -> None:
        self.call = call
        self.template = SandboxedTemplate(template)
        self.merge_template = SandboxedTemplate(merge_template)
        self.tokenizer = get_tokenizer(tokenizer)

    def prompt(self, items: Sequence[str], max_tokens: int) -> str:
        """The prompt sent for ``items`` (rendered from the sandboxed template).

        Raises:
            TemplateError: the template fails while rendering.
        """
        return self.template.render(items=list(items), max_tokens=max_tokens)

    def summarize(self, items: Sequence[str], max_tokens: int) -> str:
        """The model's summary of ``items``, never over ``max_tokens`` tokens.

        Raises:
            ConfigurationError: ``max_tokens`` is invalid, or the callable returned a non-str.
            TemplateError: the prompt template fails while rendering.
            Exception: whatever the callable raises.
        """
        limit = _check_limit(max_tokens)
        text = self.call(self.prompt(items, limit))
        if not isinstance(text, str):
            raise ConfigurationError(
                f"the summarizer callable must return str, got {type(text).__name__}"
            )
        # the longest start that fits with the marker; count-only tokenizers work too
        return truncate(text, limit, self.tokenizer, keep="start", marker=TRUNCATED_MARKER)

    def merge_prompt(self, state: SummaryState, items: Sequence[str], max_tokens: int) -> str:
        """The merge prompt: ``previous`` (the rendered state), ``items``, ``max_tokens`` and
        ``headers`` (the part headers, in order) rendered into the sandboxed merge template.

        Raises:
            TemplateError: the template fails while rendering.
        """
        return self.merge_template.render(
            previous=state.render(),
            items=list(items),
            max_tokens=max_tokens,
            headers=[HEADERS[p] for p in PARTS],
        )

    def merge(self, state: SummaryState, items: Sequence[str], max_tokens: int) -> SummaryState:
        """``state`` updated with ``items`` by the model: its answer read by
        :meth:`SummaryState.parse` (free-form text becomes narrative, a long paragraph one
        line a sentence) and fitted to ``max_tokens`` tokens (:meth:`SummaryState.fit`).

        Raises:
            ConfigurationError: ``max_tokens`` is invalid, ``state`` is not a
                :class:`SummaryState`, or the callable returned a non-str.
            TemplateError: the merge template fails while rendering.
            Exception: whatever the callable raises.
        """
        limit = _check_limit(max_tokens)
        if not isinstance(state, SummaryState):
            raise ConfigurationError(f"state must be a SummaryState, got {type(state).__name__}")
        text = self.call(self.merge_prompt(state, items, limit))
        if not isinstance(text, str):
            raise ConfigurationError(
                f"the summarizer callable must return str, got {type(text).__name__}"
            )
        lines = [x for line in text.splitlines() for x in split_sentences(line) or [line]]
        return SummaryState.parse("\n".join(lines)).fit(limit, self.tokenizer)


def merge_summary(
    summarizer: Summarizer,
    state: SummaryState,
    items: Sequence[str],
    max_tokens: int,
    *,
    tokenizer: Any = None,
) -> SummaryState:
    """Fold ``items`` (``"role: text"`` lines, oldest first) into the running summary ``state``.

    Uses ``summarizer.merge(state, items, max_tokens)`` when it has one (its result fitted to
    ``max_tokens`` too). A plain :class:`~ctxbudget.Summarizer` (only ``summarize``) gets the
    state's lines as items before the new ones, never wrapped as ``"summary: ..."``; its
    answer is read by :meth:`SummaryState.parse` and fitted to ``max_tokens`` tokens.

    ``state`` is the summary so far (``SummaryState()`` to start); ``max_tokens`` limits the
    result's ``render()``, in tokens, measured by ``tokenizer`` (default: the summarizer's
    ``tokenizer`` attribute when it is a :class:`~ctxbudget.Tokenizer`, else o200k_base).

    Raises:
        ConfigurationError: ``max_tokens`` is invalid, ``state`` is not a
            :class:`SummaryState`, or the summarizer returned the wrong type.
        Exception: whatever the summarizer raises.
    """
    limit = _check_limit(max_tokens)
    if not isinstance(state, SummaryState):
        raise ConfigurationError(f"state must be a SummaryState, got {type(state).__name__}")
    own = getattr(summarizer, "tokenizer", None)
    measure = tokenizer if tokenizer is not None else own if isinstance(own, Tokenizer) else None
    merge = getattr(summarizer, "merge", None)
    if callable(merge):
        merged = merge(state, items, limit)
        if not isinstance(merged, SummaryState):
            raise ConfigurationError(
                f"{type(summarizer).__name__}.merge must return a SummaryState, "
                f"got {type(merged).__name__}"
            )
        # held to the limit too; a line costs >= 1 token: at most `limit` lines a part can fit
        bounded = {p: getattr(merged, p)[-limit:] if limit else () for p in PARTS}
        return SummaryState(**bounded).fit(limit, measure or "o200k_base")
    text = summarizer.summarize([*state.lines(), *items], limit)
    if not isinstance(text, str):
        raise ConfigurationError(
            f"{type(summarizer).__name__}.summarize must return str, got {type(text).__name__}"
        )
    return SummaryState.parse(text).fit(limit, measure or "o200k_base")
