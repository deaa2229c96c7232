"""Count-only tokenizers backed by the providers' count-tokens APIs (Claude, Gemini).

Anthropic and Google publish no tokenizer for Claude 3+ and Gemini, but count for free:

- Anthropic: ``POST /v1/messages/count_tokens`` with the body of a Messages request (``model``,
  ``messages``, optional ``system`` and ``tools``), headers ``x-api-key`` and
  ``anthropic-version: 2023-06-01``; the answer is ``{"input_tokens": N}``
  (docs.anthropic.com/en/api/messages-count-tokens).
- Google: ``POST /v1beta/models/{model}:countTokens`` with ``{"contents": [...]}`` (or a whole
  ``generateContentRequest``), header ``x-goog-api-key``; the answer is ``{"totalTokens": N,
  ...}`` (ai.google.dev/api/tokens).

``httpx`` is imported only when a counter is made: ``pip install 'ctxbudget[count-api]'``.
``import ctxbudget`` never imports it.

``count(text)`` sends ``text`` as one user message and subtracts what the message frame costs:
the endpoint's count for the message ``"a"`` (one token in any BPE vocabulary) less one,
asked once per counter. Every distinct text is one request (the builder's count cache keeps
each answer), so these counters suit verifying a prompt or small contexts; for large ones,
build with the proxy (``"claude-*"``) and check the final text here.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import TokenizerError

if TYPE_CHECKING:
    import httpx

__all__ = ["AnthropicTokenCounter", "GeminiTokenCounter", "load_count_api"]

_ANTHROPIC_URL = "https://api.anthropic.com"
_ANTHROPIC_VERSION = "2023-06-01"
_GEMINI_URL = "https://generativelanguage.googleapis.com"


def _client(
    spec: str,
    key: str | None,
    needs: str,
    *,
    base_url: str,
    headers: Callable[[str], dict[str, str]],
    timeout: float,
) -> httpx.Client:
    """An HTTP client for a count-tokens API at ``base_url``, with ``headers(key)`` and
    ``timeout`` seconds per request.

    Raises:
        TokenizerError: ``key`` is empty or ``None`` (the message says ``needs``: the key and
            the variables to set), or httpx is not installed.
    """
    if not key:
        raise TokenizerError(f"{spec!r} needs {needs} or pass api_key=", spec=spec)
    try:
        import httpx
    except ImportError as exc:
        raise TokenizerError(
            f"{spec!r} needs httpx: run `pip install 'ctxbudget[count-api]'`", spec=spec
        ) from exc
    return httpx.Client(base_url=base_url, headers=headers(key), timeout=timeout)


class _CountAPI(ABC):
    """What both counters share: one HTTP client, the frame's cost, errors that say why."""

    approximate = False
    _provider = ""

    def __init__(self, model: str, name: str, client: httpx.Client, *, owns_client: bool) -> None:
        self.model = model
        self._owns_client = owns_client
        self._name = name
        self._http = client
        self._frame: int | None = None
        self._frame_lock = threading.Lock()

    @property
    def name(self) -> str:
        """``"<provider>-api:<model>"``."""
        return self._name

    def count(self, text: str) -> int:
        """Tokens of ``text`` as the provider counts it, less the cost of the message frame.

        Raises:
            TokenizerError: the request failed or the answer has no count (the message has the
                HTTP status and the start of the body).
        """
        if not text:
            return 0
        return max(0, self._count_text(text) - self._frame_cost())

    def _frame_cost(self) -> int:
        with self._frame_lock:
            if self._frame is None:
                self._frame = max(0, self._count_text("a") - 1)
            return self._frame

    @abstractmethod
    def _count_text(self, text: str) -> int:
        """The endpoint's count of ``text`` sent as one user message (frame included)."""

    def _post(self, path: str, body: Mapping[str, Any], field: str) -> int:
        import httpx

        try:
            response = self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise TokenizerError(
                f"{self._provider} token count for {self.model!r} failed: {exc}", spec=self._name
            ) from exc
        if response.status_code != 200:
            hint = " (check the API key)" if response.status_code in (401, 403) else ""
            raise TokenizerError(
                f"{self._provider} token count for {self.model!r} answered "
                f"{response.status_code}{hint}: {response.text[:200]}",
                spec=self._name,
            )
        try:
            value = response.json()[field]
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenizerError(
                f"{self._provider} token count for {self.model!r} has no {field!r}: "
                f"{response.text[:200]}",
                spec=self._name,
            ) from exc
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TokenizerError(
                f"{self._provider} token count for {self.model!r}: {field} is {value!r}",
                spec=self._name,
            )
        return value

    def close(self) -> None:
        """Close the HTTP client (a counter made with ``client=`` leaves it open)."""
        if self._owns_client:
            self._http.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r})"


class AnthropicTokenCounter(_CountAPI):
    """Claude's own token counts, from Anthropic's ``POST /v1/messages/count_tokens``.

    Args:
        model: the Claude model (``"claude-sonnet-4-5"``).
        api_key: the key (default ``$ANTHROPIC_API_KEY``).
        base_url: the API's address (default ``$ANTHROPIC_BASE_URL``, else
            ``https://api.anthropic.com``).
        timeout: seconds per request.
        client: an ``httpx.Client`` to send requests with (its own base URL and headers are
            used as they are; ``api_key`` and ``base_url`` are then ignored).

    Raises:
        TokenizerError: no API key is given or set, or httpx is not installed.
    """

    _provider = "Anthropic"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        name = f"anthropic-api:{model}"
        owns = client is None
        if client is None:
            client = _client(
                name,
                api_key or os.environ.get("ANTHROPIC_API_KEY"),
                "an Anthropic API key: set ANTHROPIC_API_KEY",
                base_url=base_url or os.environ.get("ANTHROPIC_BASE_URL") or _ANTHROPIC_URL,
                headers=lambda key: {"x-api-key": key, "anthropic-version": _ANTHROPIC_VERSION},
                timeout=timeout,
            )
        super().__init__(model, name, client, owns_client=owns)

    def count_messages(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """The endpoint's count of a whole Messages request: ``messages`` in Anthropic's format,
        with ``system`` and ``tools`` if given (frame and tool definitions included).

        Raises:
            TokenizerError: the request failed.
        """
        body: dict[str, Any] = {"model": self.model, "messages": list(messages)}
        if system is not None:
            body["system"] = system if isinstance(system, str) else list(system)
        if tools is not None:
            body["tools"] = list(tools)
        return self._post("/v1/messages/count_tokens", body, "input_tokens")

    def _count_text(self, text: str) -> int:
        return self.count_messages([{"role": "user", "content": text}])


class GeminiTokenCounter(_CountAPI):
    """Gemini's own token counts, from Google's ``POST /v1beta/models/{model}:countTokens``.

    Args:
        model: the Gemini model (``"gemini-2.5-flash"``; a leading ``"models/"`` is dropped).
        api_key: the key (default ``$GEMINI_API_KEY``, else ``$GOOGLE_API_KEY``).
        base_url: the API's address (default ``$GOOGLE_GEMINI_BASE_URL``, else
            ``https://generativelanguage.googleapis.com``).
        timeout: seconds per request.
        client: an ``httpx.Client`` to send requests with (``api_key`` and ``base_url`` are
            then ignored).

    Raises:
        TokenizerError: no API key is given or set, or httpx is not installed.
    """

    _provider = "Gemini"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        model = model.removeprefix("models/")
        name = f"gemini-api:{model}"
        owns = client is None
        if client is None:
            client = _client(
                name,
                api_key or os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY"),
                "a Gemini API key: set GEMINI_API_KEY (or GOOGLE_API_KEY)",
                base_url=base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL") or _GEMINI_URL,
                headers=lambda key: {"x-goog-api-key": key},
                timeout=timeout,
            )
        super().__init__(model, name, client, owns_client=owns)

    def count_messages(
        self,
        contents: Sequence[Mapping[str, Any]],
        *,
        system_instruction: Mapping[str, Any] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """The endpoint's ``totalTokens`` for ``contents`` in Gemini's format (with
        ``system_instruction`` and ``tools``, sent as a ``generateContentRequest``).

        Raises:
            TokenizerError: the request failed.
        """
        body: dict[str, Any]
        if system_instruction is None and tools is None:
            body = {"contents": list(contents)}
        else:
            request: dict[str, Any] = {"model": f"models/{self.model}", "contents": list(contents)}
            if system_instruction is not None:
                request["systemInstruction"] = system_instruction
            if tools is not None:
                request["tools"] = list(tools)
            body = {"generateContentRequest": request}
        return self._post(f"/v1beta/models/{self.model}:countTokens", body, "totalTokens")

    def _count_text(self, text: str) -> int:
        return self.count_messages([{"role": "user", "parts": [{"text": text}]}])


def load_count_api(spec: str) -> _CountAPI:
    """``"anthropic-api:<model>"`` or ``"gemini-api:<model>"``, keys from the environment."""
    provider, _, model = spec.partition(":")
    if not model:
        raise TokenizerError(f"{spec!r} names no model: write '{provider}:<model>'", spec=spec)
    if provider == "anthropic-api":
        return AnthropicTokenCounter(model)
    return GeminiTokenCounter(model)
