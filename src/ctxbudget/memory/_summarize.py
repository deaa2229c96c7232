"""Summarization: shrink old items into one summary that fits a token limit.

:class:`ExtractiveSummarizer` works offline and deterministically. It scores each sentence by
the frequency of its content words across the items being summarized (the frequency criterion of
H. P. Luhn, "The Automatic Creation of Literature Abstracts", IBM Journal, 1958). It keeps the
highest-scoring sentences that fit, in their original order, each prefixed with who said it.

:class:`LLMSummarizer` wraps any ``(prompt: str) -> str`` callable. Its output is measured and,
when over the limit, cut to it and marked as truncated.
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

__all__ = ["TRUNCATED_MARKER", "ExtractiveSummarizer", "LLMSummarizer"]

#: Appended to a summary cut to its limit.
TRUNCATED_MARKER = " [summary truncated]"

_SPEAKER = re.compile(r"^(\w[\w .-]{0,30}):\s")
# A sentence ends at . ! ? after a letter (not "1." list numbering), or at a line break.
_SENTENCE = re.compile(r"(?<=[^\W\d_][.!?])\s+(?=[A-Z0-9\"'(\[])|\n+")
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_STOPWORDS = frozenset(
    "the and for that with this you are was were have has had but not from they their there "  # noqa: SIM905
    "what when which who will would can could should about into than then them these those "
    "your our its also just been being more most some such only other over very any all how "
    "why where here does did doing done out get got one two may might must shall let".split()
)


def _check_limit(max_tokens: object) -> int:
    return whole_number(max_tokens, "max_tokens", unit="tokens")


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
        limit = _check_limit(max_tokens)
        sentences: list[tuple[int, str]] = []  # (position, "speaker: sentence")
        for item in items:
            speaker = ""
            match = _SPEAKER.match(item)
            body = item
            if match:
                speaker, body = match.group(1), item[match.end() :]
            for raw in _SENTENCE.split(body):
                sentence = " ".join(raw.split())
                if any(w not in _STOPWORDS for w in _WORD.findall(sentence.lower())):
                    line = f"{speaker}: {sentence}" if speaker else sentence
                    sentences.append((len(sentences), line))
        frequency = Counter(
            w for _, s in sentences for w in _WORD.findall(s.lower()) if w not in _STOPWORDS
        )

        def score(line: str) -> float:
            words = [w for w in _WORD.findall(line.lower()) if w not in _STOPWORDS]
            return sum(frequency[w] for w in words) / (len(words) ** 0.5 or 1.0)

        ranked = sorted(sentences, key=lambda p: (-score(p[1]), p[0]))
        count = self.tokenizer.count
        chosen: list[tuple[int, str]] = []
        used = 0
        for position, line in ranked:
            cost = count(line) + (1 if chosen else 0)
            if used + cost <= limit:
                chosen.append((position, line))
                used += cost
        chosen.sort()
        text = "\n".join(line for _, line in chosen)
        while chosen and count(text) > limit:  # joins are not additive: drop the weakest
            weakest = min(chosen, key=lambda p: (score(p[1]), -p[0]))
            chosen.remove(weakest)
            text = "\n".join(line for _, line in chosen)
        return text


#: The default prompt of :class:`LLMSummarizer` (items are data, never template source).
DEFAULT_PROMPT = (
    "Summarize the conversation below in at most {{ max_tokens }} tokens. Keep who said what, "
    "decisions, facts and open questions.\n\n"
    "{% for item in items %}{{ item }}\n{% endfor %}"
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
        tokenizer: Any = "o200k_base",
    ) -> None:
        self.call = call
        self.template = SandboxedTemplate(template)
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
