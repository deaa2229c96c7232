"""Count-only tokenizers over the providers' count-tokens APIs, tested against recorded HTTP
exchanges served on a free loopback port (no real network). The exchanges are written from the
providers' API references: Anthropic ``POST /v1/messages/count_tokens``
(docs.anthropic.com/en/api/messages-count-tokens) and Gemini ``models.countTokens``
(ai.google.dev/api/tokens)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

import ctxbudget.tokenizers._registry as registry
from ctxbudget import TokenizerError, build_context, get_tokenizer
from ctxbudget.tokenizers import AnthropicTokenCounter, GeminiTokenCounter

KEY = "test-key-not-a-secret"
SONNET = "claude-sonnet-4-5"
FLASH = "gemini-2.5-flash"
ANTHROPIC_PATH = "/v1/messages/count_tokens"
GEMINI_PATH = f"/v1beta/models/{FLASH}:countTokens"
FOX = "The quick brown fox jumps over the lazy dog."


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def _contents(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "parts": [{"text": text}]}]


#: (path, request body) -> (status, response body), as the API references document them.
RECORDED: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {
    (ANTHROPIC_PATH, json.dumps({"model": SONNET, "messages": _user("a")})): (
        200,
        {"input_tokens": 8},
    ),
    (ANTHROPIC_PATH, json.dumps({"model": SONNET, "messages": _user("Hello, world")})): (
        200,
        {"input_tokens": 10},
    ),
    (
        ANTHROPIC_PATH,
        json.dumps(
            {
                "model": SONNET,
                "messages": _user("Hello, Claude"),
                "system": "You are a scientist",
                "tools": [
                    {
                        "name": "get_weather",
                        "description": "Get the current weather in a given location",
                        "input_schema": {
                            "type": "object",
                            "properties": {"location": {"type": "string"}},
                            "required": ["location"],
                        },
                    }
                ],
            }
        ),
    ): (200, {"input_tokens": 403}),
    (GEMINI_PATH, json.dumps({"contents": _contents("a")})): (
        200,
        {"totalTokens": 1, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1}]},
    ),
    (GEMINI_PATH, json.dumps({"contents": _contents(FOX)})): (
        200,
        {"totalTokens": 10, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 10}]},
    ),
}  # fmt: skip


@dataclass
class Provider:
    """The local server: its base URL, every request it received, and whether it simulates
    the provider (o200k_base tokens of the text plus a 7-token message frame) for requests it
    has no recording of."""

    url: str
    requests: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    simulate: bool = False


def _simulated(path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    o200k = get_tokenizer("o200k_base")
    if path == ANTHROPIC_PATH:
        text = "".join(m["content"] for m in body["messages"])
        return 200, {"input_tokens": o200k.count(text) + 7}
    contents = body.get("contents") or body["generateContentRequest"]["contents"]
    text = "".join(p["text"] for c in contents for p in c["parts"])
    return 200, {"totalTokens": o200k.count(text)}


@pytest.fixture
def provider() -> Iterator[Provider]:
    """Anthropic's and Gemini's count endpoints on a free loopback port, replaying RECORDED:
    a wrong key is answered 401 in the provider's error format, an unrecorded request 400."""
    state = Provider(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            body = json.loads(raw)
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append((self.path, headers, body))
            key = headers.get("x-api-key") or headers.get("x-goog-api-key")
            if key != KEY:
                status, answer = (
                    401,
                    {
                        "type": "error",
                        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                    },
                )
            elif self.path == ANTHROPIC_PATH and headers.get("anthropic-version") != "2023-06-01":
                status, answer = 400, {"type": "error", "error": {"message": "no version"}}
            elif (self.path, json.dumps(body)) in RECORDED:
                status, answer = RECORDED[(self.path, json.dumps(body))]
            elif state.simulate:
                status, answer = _simulated(self.path, body)
            else:
                status, answer = 400, {"error": {"message": f"unrecorded request {body}"}}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- Anthropic -----------------------------------------------------------------------------------


def test_anthropic_count_is_the_endpoints_count_less_the_message_frame(provider: Provider) -> None:
    """count(text) sends one user message and subtracts the frame (the count for 'a' less
    one, asked once): 10 - (8 - 1) = 3. Headers and bodies are the documented ones."""
    tok = AnthropicTokenCounter(SONNET, api_key=KEY, base_url=provider.url)
    assert (tok.name, tok.approximate) == ("anthropic-api:claude-sonnet-4-5", False)
    assert tok.count("Hello, world") == 3
    assert tok.count("") == 0
    paths = [path for path, _, _ in provider.requests]
    assert paths == [ANTHROPIC_PATH, ANTHROPIC_PATH]
    _, headers, body = provider.requests[0]
    assert headers["x-api-key"] == KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["content-type"] == "application/json"
    assert body == {"model": SONNET, "messages": _user("Hello, world")}
    tok.count("Hello, world")
    assert len(provider.requests) == 3  # the frame is asked once


def test_anthropic_count_messages_sends_system_and_tools(provider: Provider) -> None:
    """count_messages counts a whole request, system prompt and tool definitions included."""
    tok = AnthropicTokenCounter(SONNET, api_key=KEY, base_url=provider.url)
    tools = [
        {
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "input_schema": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        }
    ]
    n = tok.count_messages(_user("Hello, Claude"), system="You are a scientist", tools=tools)
    assert n == 403


def test_a_rejected_key_is_a_tokenizer_error_with_the_status(provider: Provider) -> None:
    """401 from the provider: TokenizerError naming the status and the key to check."""
    tok = AnthropicTokenCounter(SONNET, api_key="wrong", base_url=provider.url)
    with pytest.raises(TokenizerError, match=r"401 \(check the API key\)"):
        tok.count("Hello, world")


def test_an_unreachable_endpoint_is_a_tokenizer_error() -> None:
    """A connection refused on loopback becomes a TokenizerError, chained."""
    with FreePort() as port:
        pass  # the port is free again: nothing listens there
    tok = AnthropicTokenCounter(SONNET, api_key=KEY, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TokenizerError, match="failed") as info:
        tok.count("Hello, world")
    assert isinstance(info.value.__cause__, httpx.HTTPError)


def test_the_spec_reads_the_key_and_address_from_the_environment(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'anthropic-api:<model>' uses ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL; without a key
    the error says what to set."""
    monkeypatch.setattr(registry, "_cache", {})
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(TokenizerError, match="set ANTHROPIC_API_KEY"):
        get_tokenizer(f"anthropic-api:{SONNET}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", provider.url)
    assert get_tokenizer(f"anthropic-api:{SONNET}").count("Hello, world") == 3


def test_a_build_counted_by_the_provider_holds_the_providers_cap(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A whole build through the endpoint (simulated beyond the recordings): the text's count
    by the provider, less its frame, is within the cap; each distinct text is asked once."""
    provider.simulate = True
    tok = AnthropicTokenCounter(SONNET, api_key=KEY, base_url=provider.url)
    content = {"summaries": "Maya moved to Lisbon in March. " * 200, "userFacts": "likes tea"}
    result = build_context(content, max_tokens=300, tokenizer=tok)
    assert result.tokens <= 300
    assert result.tokens == get_tokenizer("o200k_base").count(result.text)
    assert result.approximate is False
    texts = [json.dumps(body) for _, _, body in provider.requests]
    assert len(texts) == len(set(texts))


# -- Gemini ------------------------------------------------------------------------------------


def test_gemini_count_uses_count_tokens_with_the_documented_body(provider: Provider) -> None:
    """count(text) posts {'contents': [...]} to models/{model}:countTokens with the key header
    and reads totalTokens; 'a' costs 1, so no frame is subtracted."""
    tok = GeminiTokenCounter(f"models/{FLASH}", api_key=KEY, base_url=provider.url)
    assert tok.name == f"gemini-api:{FLASH}"
    assert tok.count(FOX) == 10
    path, headers, body = provider.requests[0]
    assert path == GEMINI_PATH
    assert headers["x-goog-api-key"] == KEY
    assert body == {"contents": _contents(FOX)}


def test_gemini_count_messages_with_a_system_instruction_sends_a_generate_request(
    provider: Provider,
) -> None:
    """With a system instruction, the body is a generateContentRequest naming the model."""
    provider.simulate = True
    tok = GeminiTokenCounter(FLASH, api_key=KEY, base_url=provider.url)
    tok.count_messages(_contents("hi"), system_instruction={"parts": [{"text": "Be brief."}]})
    body = provider.requests[-1][2]
    assert body["generateContentRequest"]["model"] == f"models/{FLASH}"
    assert body["generateContentRequest"]["systemInstruction"] == {"parts": [{"text": "Be brief."}]}


def test_gemini_without_a_key_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GEMINI_API_KEY nor GOOGLE_API_KEY: the error names both."""
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    with pytest.raises(TokenizerError, match="GEMINI_API_KEY"):
        GeminiTokenCounter(FLASH)


def test_a_given_httpx_client_is_used_as_it_is(provider: Provider) -> None:
    """client= sends through the caller's httpx.Client (its base URL and headers); close()
    leaves it open."""
    client = httpx.Client(base_url=provider.url, headers={"x-goog-api-key": KEY})
    tok = GeminiTokenCounter(FLASH, client=client)
    assert tok.count(FOX) == 10
    tok.close()
    assert not client.is_closed
    client.close()


# -- optional stays optional ---------------------------------------------------------------------


def test_without_httpx_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx missing: TokenizerError saying pip install 'ctxbudget[count-api]'."""
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(TokenizerError, match=r"pip install 'ctxbudget\[count-api\]'"):
        AnthropicTokenCounter(SONNET, api_key=KEY)


def test_import_ctxbudget_does_not_import_httpx() -> None:
    """The adapters import httpx only when a counter is made."""
    code = "import sys, ctxbudget, ctxbudget.tokenizers; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class FreePort:
    """A free loopback port, closed on exit."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
