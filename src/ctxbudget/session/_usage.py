"""What an LLM response reports it used: :class:`Usage` and :func:`usage_of`.

Each provider reports usage in its own shape and by its own rule; :func:`usage_of` reads them
all into one :class:`Usage` whose ``input_tokens`` are *all* input tokens billed:

==========================  ====================================================  =========
shape                       fields read                                           cached in
==========================  ====================================================  =========
OpenAI Chat Completions,    ``usage.prompt_tokens``, ``completion_tokens``,       included
litellm ``ModelResponse``   ``prompt_tokens_details.cached_tokens`` (and          (OpenAI)
                            ``.cache_creation_tokens`` / ``cache_creation_input_
                            tokens`` from litellm), ``completion_tokens_details.
                            reasoning_tokens``; DeepSeek's ``prompt_cache_hit_
                            tokens``
OpenAI Responses API        ``usage.input_tokens``, ``output_tokens``,            included
                            ``input_tokens_details.cached_tokens``,
                            ``output_tokens_details.reasoning_tokens``
Anthropic Messages          ``usage.input_tokens``, ``output_tokens``,            excluded:
                            ``cache_creation_input_tokens``,                      added
                            ``cache_read_input_tokens``
Gemini                      ``usage_metadata`` / ``usageMetadata``:               included
                            ``prompt_token_count``, ``candidates_token_count``,
                            ``cached_content_token_count``, ``thoughts_token_
                            count`` (billed as output), ``tool_use_prompt_token_
                            count`` (billed as input)
LangChain ``AIMessage``     ``usage_metadata``: ``input_tokens``,                 included
                            ``output_tokens``, ``input_token_details.cache_read``
                            / ``cache_creation``, ``output_token_details.
                            reasoning``
==========================  ====================================================  =========

Sources: OpenAI API reference (``CompletionUsage``, Responses ``ResponseUsage``); Anthropic
"Prompt caching: tracking cache performance" (total input = ``input_tokens`` +
``cache_creation_input_tokens`` + ``cache_read_input_tokens``); Gemini API
``UsageMetadata`` ("When cachedContent is set, this is still the total effective prompt size
meaning this includes the number of tokens in the cached content"); langchain-core
``UsageMetadata`` ("Sum of all input token types"). Objects (SDK models, attribute access) and
dicts (raw JSON) are read alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import ConfigurationError
from ._values import MAX_TOKENS, check_tokens

__all__ = ["Usage", "checked_usage", "usage_of"]


@dataclass(frozen=True)
class Usage:
    """One call's token usage. Every count is in tokens.

    ``cached_input_tokens`` and ``cache_write_tokens`` are *parts* of ``input_tokens`` (they
    fill the window like any input; only their price differs), ``reasoning_tokens`` a part of
    ``output_tokens``. A ``Usage`` unpacks as ``(input_tokens, output_tokens)``, like the tuple
    :func:`usage_of` returned before it carried the rest.

    Attributes:
        input_tokens: every input token billed, cache reads and writes included.
        output_tokens: every output token billed, reasoning included.
        cached_input_tokens: input tokens read from a prompt cache.
        cache_write_tokens: input tokens written to a prompt cache.
        reasoning_tokens: output tokens spent on reasoning ("thinking").
        model: the model the response names, or ``None``.

    Raises:
        ConfigurationError: a count is not a whole number >= 0, or the parts exceed the whole.

    >>> input_tokens, output_tokens = Usage(1_200, 350, cached_input_tokens=1_000)
    """

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    model: str | None = None

    def __post_init__(self) -> None:
        if _plain(self.input_tokens, self.output_tokens, self.cached_input_tokens,
                  self.cache_write_tokens, self.reasoning_tokens) and (
            self.cached_input_tokens + self.cache_write_tokens <= self.input_tokens
            and self.reasoning_tokens <= self.output_tokens
        ):  # fmt: skip
            return  # the common case, checked at a glance; else each rule names its value
        for name in ("input_tokens", "output_tokens", "cached_input_tokens",
                     "cache_write_tokens", "reasoning_tokens"):  # fmt: skip
            if _count(getattr(self, name)) is None:
                raise ConfigurationError(
                    f"{name} must be a whole number of tokens >= 0, got {getattr(self, name)!r}"
                )
        if self.cached_input_tokens + self.cache_write_tokens > self.input_tokens:
            raise ConfigurationError(
                f"cached_input_tokens ({self.cached_input_tokens}) + cache_write_tokens "
                f"({self.cache_write_tokens}) exceed input_tokens ({self.input_tokens}): "
                f"input_tokens must count every input token, cached ones included"
            )
        if self.reasoning_tokens > self.output_tokens:
            raise ConfigurationError(
                f"reasoning_tokens ({self.reasoning_tokens}) exceed output_tokens "
                f"({self.output_tokens}): output_tokens must include reasoning"
            )

    def __iter__(self) -> Iterator[int]:
        yield self.input_tokens
        yield self.output_tokens

    @property
    def total_tokens(self) -> int:
        """``input_tokens + output_tokens``: what the call adds to a budget's ``used``."""
        return self.input_tokens + self.output_tokens


def checked_usage(input_tokens: int, output_tokens: int, cached: int, written: int) -> Usage:
    """The usage of a commit or record, each count checked (whole, 0 to 2**48), the cached
    parts within the input.

    Raises:
        ConfigurationError: naming the count and the value.
    """
    if (
        _plain(input_tokens, output_tokens, cached, written)
        and max(input_tokens, output_tokens) <= MAX_TOKENS
    ):
        return Usage(input_tokens, output_tokens, cached, written)
    check_tokens(input_tokens, "input_tokens", allow_zero=True)
    check_tokens(output_tokens, "output_tokens", allow_zero=True)
    check_tokens(cached, "cached_input_tokens", allow_zero=True)
    check_tokens(written, "cache_write_tokens", allow_zero=True)
    return Usage(input_tokens, output_tokens, cached, written)


def _field(obj: Any, *names: str) -> Any:
    """The first of ``names`` that ``obj`` has (a key of a mapping, else an attribute)."""
    for name in names:
        value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _plain(a: object, b: object, c: object, d: object, e: object = 0) -> bool:
    """Whether every value is an ``int`` (not a bool or a subclass) >= 0 (the fast path)."""
    return (
        type(a) is int and type(b) is int and type(c) is int and type(d) is int
        and type(e) is int and a >= 0 and b >= 0 and c >= 0 and d >= 0 and e >= 0
    )  # fmt: skip


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _part(obj: Any, *path: str) -> int:
    """A detail count at ``path`` (``0`` when absent or not a count)."""
    for name in path:
        if obj is None:
            return 0
        obj = _field(obj, name)
    return _count(obj) or 0


def usage_of(response: Any) -> Usage | None:
    """The :class:`Usage` a response reports, or ``None`` when it reports none.

    Understands every shape in the table of :mod:`ctxbudget.session._usage` (OpenAI Chat
    Completions and Responses, Anthropic Messages with prompt caching, Gemini, LangChain
    ``AIMessage``, litellm ``ModelResponse``), as SDK objects or as dicts, and the model the
    response names: ``model``, Gemini's ``model_version`` / ``modelVersion``, LangChain's
    ``response_metadata["model_name"]`` or ``["model"]``.

    A response whose main counts are missing or not whole numbers >= 0 (``True``, ``-1``)
    gives ``None``, so :func:`~ctxbudget.guard` commits its estimate instead. Detail counts
    that are missing or malformed count as 0; parts larger than the whole are capped at it.

    >>> usage_of({"usage": {"input_tokens": 50, "output_tokens": 20,
    ...                     "cache_read_input_tokens": 13_000}}).input_tokens
    13050
    """
    if response is None or isinstance(response, (str, bytes)):
        return None
    meta = _field(response, "usage_metadata", "usageMetadata")
    usage = _field(response, "usage")
    read: Callable[[Any, str | None], Usage | None] | None = None
    if meta is not None and _field(meta, "prompt_token_count", "promptTokenCount") is not None:
        read, usage = _gemini, meta
    elif meta is not None and _field(meta, "input_tokens") is not None:
        read, usage = _langchain, meta
    elif usage is not None and _field(usage, "prompt_tokens") is not None:
        read = _openai_chat
    elif (
        usage is not None
        and _field(usage, "input_tokens_details", "output_tokens_details") is not None
    ):
        read = _responses
    elif usage is not None:
        read = _anthropic
    return None if read is None else read(usage, _model_of(response))


def _model_of(response: Any) -> str | None:
    for value in (
        _field(response, "model"),
        _field(response, "model_version", "modelVersion"),
        _field(_field(response, "response_metadata") or {}, "model_name", "model"),
    ):
        if isinstance(value, str) and value:
            return value
    return None


def _make(
    model: str | None,
    inp: int | None,
    out: int | None,
    *,
    cached: int = 0,
    written: int = 0,
    reasoning: int = 0,
) -> Usage | None:
    if inp is None or out is None:
        return None
    cached = min(cached, inp)
    written = min(written, inp - cached)
    return Usage(inp, out, cached, written, min(reasoning, out), model)


def _openai_chat(usage: Any, model: str | None) -> Usage | None:
    details = _field(usage, "prompt_tokens_details")
    cached = _part(details, "cached_tokens") or _part(usage, "cache_read_input_tokens")
    cached = cached or _part(usage, "prompt_cache_hit_tokens")  # DeepSeek
    written = _part(details, "cache_creation_tokens") or _part(
        usage, "cache_creation_input_tokens"
    )  # litellm, for Anthropic models: included in prompt_tokens
    reasoning = _part(usage, "completion_tokens_details", "reasoning_tokens")
    return _make(
        model,
        _count(_field(usage, "prompt_tokens")),
        _count(_field(usage, "completion_tokens")),
        cached=cached,
        written=written,
        reasoning=reasoning,
    )


def _responses(usage: Any, model: str | None) -> Usage | None:
    return _make(
        model,
        _count(_field(usage, "input_tokens")),
        _count(_field(usage, "output_tokens")),
        cached=_part(usage, "input_tokens_details", "cached_tokens"),
        reasoning=_part(usage, "output_tokens_details", "reasoning_tokens"),
    )


def _anthropic(usage: Any, model: str | None) -> Usage | None:
    fresh = _count(_field(usage, "input_tokens"))
    written = _part(usage, "cache_creation_input_tokens")
    cached = _part(usage, "cache_read_input_tokens")
    total = None if fresh is None else fresh + written + cached
    return _make(
        model, total, _count(_field(usage, "output_tokens")), cached=cached, written=written
    )


def _gemini(meta: Any, model: str | None) -> Usage | None:
    prompt = _count(_field(meta, "prompt_token_count", "promptTokenCount"))
    tools = _count(_field(meta, "tool_use_prompt_token_count", "toolUsePromptTokenCount")) or 0
    # The REST API omits counts that are zero (proto3 JSON), so an absent output count is 0.
    candidates = _field(meta, "candidates_token_count", "candidatesTokenCount")
    answer = 0 if candidates is None else _count(candidates)
    thoughts = _count(_field(meta, "thoughts_token_count", "thoughtsTokenCount")) or 0
    cached = _count(_field(meta, "cached_content_token_count", "cachedContentTokenCount")) or 0
    return _make(
        model,
        None if prompt is None else prompt + tools,
        None if answer is None else answer + thoughts,
        cached=cached,
        reasoning=thoughts,
    )


def _langchain(meta: Any, model: str | None) -> Usage | None:
    return _make(
        model,
        _count(_field(meta, "input_tokens")),
        _count(_field(meta, "output_tokens")),
        cached=_part(meta, "input_token_details", "cache_read"),
        written=_part(meta, "input_token_details", "cache_creation"),
        reasoning=_part(meta, "output_token_details", "reasoning"),
    )
