"""The HTTP service (``ctxbudget serve``) against a real uvicorn on a loopback port: the auth
matrix, every route, validation and body limits, idempotent settles, 8 clients racing one cap
with no overspend, and the status page in headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ctxbudget import SessionBudget

RO = "ro-token-" + "r" * 24
RW = "rw-token-" + "w" * 24
CAP = 1000


@dataclass(frozen=True)
class Server:
    url: str
    ledger: str
    log: Path

    def client(self, token: str | None = RW) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _serving(root: Path, **env: str) -> Iterator[Server]:
    """``ctxbudget serve`` on a SQLite ledger in ``root`` (shared with the tests), in a
    subprocess on a free loopback port, stopped by pid on exit; ``env``: extra settings."""
    ledger = f"sqlite:///{root / 'ledger.db'}"
    port = _free_port()
    env = {**os.environ, "CTXBUDGET_SERVER_TOKENS": f"ro:{RO},rw:{RW}",
           "CTXBUDGET_SESSION_TOKEN_CAP": str(CAP), **env}  # fmt: skip
    log = root / "server.log"
    command = [sys.executable, "-m", "ctxbudget.cli", "serve", "--ledger", ledger,
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited {proc.returncode}: {log.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer in 30 s: {log.read_text()}")
            time.sleep(0.1)
        yield Server(url, ledger, log)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The server most tests talk to (session cap 1000 tokens)."""
    with _serving(tmp_path_factory.mktemp("server")) as running:
        yield running


def _reserve(client: httpx.Client, tokens: int, session: str, **more: Any) -> dict[str, Any]:
    response = client.post("/v1/reservations", json={"tokens": tokens, "session": session, **more})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _spend(server: Server, session: str, tokens: int) -> None:
    with server.client() as client:
        held = _reserve(client, tokens, session)
        answer = client.post(
            f"/v1/reservations/{held['id']}/commit",
            json={"input_tokens": tokens, "output_tokens": 0},
        )
        assert answer.status_code == 200, answer.text


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


# -- auth -----------------------------------------------------------------------------------

READS = ["/v1/sessions", "/v1/sessions/auth-seed/budget", "/metrics", "/openapi.json", "/"]
WRITES = [
    ("/v1/reservations", {"tokens": 5, "session": "auth-writes"}, 201),
    ("/v1/reservations/unknown-id/commit", {"input_tokens": 1, "output_tokens": 1}, 404),
    ("/v1/reservations/unknown-id/rollback", {}, 404),
    ("/v1/reservations/unknown-id/renew", {}, 404),
]


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize(("token", "status"), [(None, 401), ("wrong-" + "x" * 30, 401),
                                               (RO, 200), (RW, 200)])  # fmt: skip
def test_reads_need_a_valid_token_of_either_kind(
    server: Server, path: str, token: str | None, status: int
) -> None:
    """Every read route answers 401 without a token or with a wrong one, 200 with ro or rw."""
    _spend(server, "auth-seed", 1)
    with server.client(token) as client:
        response = client.get(path)
    assert response.status_code == status, response.text
    if status == 401:
        _error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("path", "body", "rw_status"), WRITES)
@pytest.mark.parametrize("token", [None, "wrong-" + "x" * 30, RO, RW])
def test_writes_need_a_read_write_token(
    server: Server, path: str, body: dict[str, Any], rw_status: int, token: str | None
) -> None:
    """Writes: 401 without a valid token, 403 for a read-only one, through to the route with rw
    (an unknown reservation id is then a 404 JSON error)."""
    with server.client(token) as client:
        response = client.post(path, json=body)
    if token == RW:
        assert response.status_code == rw_status, response.text
        if rw_status == 404:
            _error(response, 404, "unknown_reservation")
        else:
            client = server.client()
            client.post(f"/v1/reservations/{response.json()['id']}/rollback").raise_for_status()
            client.close()
    elif token == RO:
        _error(response, 403, "forbidden")
    else:
        _error(response, 401, "unauthorized")


def test_healthz_needs_no_token(server: Server) -> None:
    """``/healthz`` is the one route that answers without a token."""
    response = httpx.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# -- reservations ---------------------------------------------------------------------------


def test_reserve_commit_and_the_session_budget(server: Server) -> None:
    """A reservation holds tokens in every scope, a commit spends them (cost from the model),
    and the budget route shows used, reserved, remaining, cap, state, calls, cost and the tree."""
    with server.client() as client:
        held = _reserve(client, 300, "flow", user="u-flow", conversation="c-flow")
        assert held["tokens"] == 300
        assert held["scopes"][:3] == ["session:flow", "user:u-flow", "conversation:c-flow"]
        assert held["lease_s"] > 0
        during = client.get("/v1/sessions/flow/budget").json()
        assert during["reserved"] == 300
        commit = client.post(
            f"/v1/reservations/{held['id']}/commit",
            json={"input_tokens": 120, "output_tokens": 80, "model": "gpt-4o"},
        )
        assert commit.status_code == 200, commit.text
        assert commit.json()["state"] == "committed"
        budget = client.get("/v1/sessions/flow/budget").json()
    assert (budget["used"], budget["reserved"], budget["cap"]) == (200, 0, CAP)
    assert budget["remaining"] == CAP - 200
    assert (budget["calls"], budget["state"]) == (1, "active")
    assert budget["cost"] > 0
    assert budget["tree"][0]["scope"] == "session:flow"


def test_a_replayed_commit_returns_the_first_outcome(server: Server) -> None:
    """Committing twice spends once: the replay gets the first answer, marked as a replay; a
    rollback after it is a 409 naming the state."""
    with server.client() as client:
        held = _reserve(client, 100, "replay")
        path = f"/v1/reservations/{held['id']}"
        first = client.post(f"{path}/commit", json={"input_tokens": 40, "output_tokens": 10})
        again = client.post(f"{path}/commit", json={"input_tokens": 99, "output_tokens": 99})
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert client.get("/v1/sessions/replay/budget").json()["used"] == 50
        late = _error(client.post(f"{path}/rollback"), 409, "reservation_settled")
        assert late["state"] == "committed"
        _error(client.post(f"{path}/renew"), 409, "reservation_settled")


def test_a_retried_reservation_with_an_idempotency_key_holds_once(server: Server) -> None:
    """A client that retries POST /v1/reservations with the same Idempotency-Key header (or
    body key) gets the first reservation back (200, marked as a replay) and holds once; after
    the commit, a replay reports it committed and spends nothing more."""
    with server.client() as client:
        headers = {"Idempotency-Key": "call-42"}
        body = {"tokens": 300, "session": "retry"}
        first = client.post("/v1/reservations", json=body, headers=headers)
        again = client.post("/v1/reservations", json=body, headers=headers)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["idempotent-replayed"] == "true"
        assert client.get("/v1/sessions/retry/budget").json()["reserved"] == 300
        path = f"/v1/reservations/{first.json()['id']}/commit"
        assert client.post(path, json={"input_tokens": 100, "output_tokens": 20}).is_success
        late = client.post("/v1/reservations", json=body, headers=headers)
        assert (late.status_code, late.json()["state"]) == (200, "committed")
        other = client.post("/v1/reservations", json={**body, "idempotency_key": "call-43"})
        assert other.status_code == 201
        assert other.json()["id"] != first.json()["id"]
        status = client.get("/v1/sessions/retry/budget").json()
        assert (status["used"], status["reserved"], status["calls"]) == (120, 300, 1)


def test_rollback_releases_the_hold_and_renew_extends_the_lease(server: Server) -> None:
    """Renew sets the lease asked for; rollback frees the tokens; a second rollback is a
    replay."""
    with server.client() as client:
        held = _reserve(client, 250, "release")
        path = f"/v1/reservations/{held['id']}"
        renewed = client.post(f"{path}/renew", json={"lease_s": 120})
        assert renewed.status_code == 200, renewed.text
        assert renewed.json()["lease_s"] == 120
        assert client.get("/v1/sessions/release/budget").json()["reserved"] == 250
        first = client.post(f"{path}/rollback")
        assert first.status_code == 200
        assert first.json()["state"] == "rolled_back"
        assert client.post(f"{path}/rollback").json() == first.json()
        budget = client.get("/v1/sessions/release/budget").json()
        assert (budget["used"], budget["reserved"]) == (0, 0)
        _error(client.post(f"{path}/commit", json={"input_tokens": 1, "output_tokens": 1}),
               409, "reservation_settled")  # fmt: skip


def test_a_refused_reservation_names_the_scope(server: Server) -> None:
    """Past the cap: 409 ``budget_exhausted`` with the scope and its numbers; nothing held."""
    with server.client() as client:
        error = _error(
            client.post("/v1/reservations", json={"tokens": CAP + 1, "session": "refused"}),
            409,
            "budget_exhausted",
        )
        assert error["scope"] == "session:refused"
        assert (error["cap"], error["requested"], error["available"]) == (CAP, CAP + 1, CAP)
        assert client.get("/v1/sessions/refused/budget").json()["reserved"] == 0


def test_an_unknown_session_is_a_404(server: Server) -> None:
    """A session the ledger never saw is not reported as a healthy empty one."""
    with server.client(RO) as client:
        _error(client.get("/v1/sessions/never-seen/budget"), 404, "unknown_session")


def test_a_reservation_nobody_asks_about_is_rolled_back(tmp_path: Path) -> None:
    """A client that reserves and vanishes does not hold tokens for ever: once idle for
    ``CTXBUDGET_SERVER_IDLE_S``, the next reservation's sweep rolls it back (and its id then
    answers as rolled back); one that is renewed meanwhile stays held."""
    with _serving(tmp_path, CTXBUDGET_SERVER_IDLE_S="1.5") as idle, idle.client() as client:
        forgotten = _reserve(client, 400, "idle")
        kept = _reserve(client, 100, "idle")
        for _ in range(4):
            time.sleep(0.5)
            client.post(f"/v1/reservations/{kept['id']}/renew").raise_for_status()
        assert client.get("/v1/sessions/idle/budget").json()["reserved"] == 500
        _reserve(client, 1, "idle-other")  # sweeps
        assert client.get("/v1/sessions/idle/budget").json()["reserved"] == 100
        late = client.post(f"/v1/reservations/{forgotten['id']}/rollback")
        assert late.json() == {"id": forgotten["id"], "state": "rolled_back"}
        _error(client.post(f"/v1/reservations/{forgotten['id']}/commit",
                           json={"input_tokens": 1, "output_tokens": 1}),
               409, "reservation_settled")  # fmt: skip


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tokens": "3", "session": "v"}, "tokens"),
        ({"tokens": 0, "session": "v"}, "tokens"),
        ({"tokens": 5}, "session"),
        ({"tokens": 5, "session": ""}, "session"),
        ({"tokens": 5, "session": "v", "colour": "red"}, "colour"),
    ],
)
def test_an_invalid_body_is_a_422_naming_the_field(
    server: Server, body: dict[str, Any], field: str
) -> None:
    """pydantic validation (strict: no "3" for 3) answers 422 with the field by name."""
    with server.client() as client:
        error = _error(client.post("/v1/reservations", json=body), 422, "invalid_body")
    assert [f["field"] for f in error["fields"]] == [field]
    assert field in error["message"]


def test_a_body_that_is_not_json_is_a_400(server: Server) -> None:
    """A body that does not parse, or is not an object, is answered ``invalid_json``."""
    with server.client() as client:
        _error(client.post("/v1/reservations", content=b"{nope"), 400, "invalid_json")
        _error(client.post("/v1/reservations", json=[1, 2]), 400, "invalid_json")


def test_a_body_over_64_kib_is_a_413(server: Server) -> None:
    """The body limit holds whether the length is declared or streamed without one."""
    big = b'{"tokens": 5, "session": "' + b"x" * (65 * 1024) + b'"}'
    with server.client() as client:
        _error(client.post("/v1/reservations", content=big), 413, "body_too_large")
        chunks = iter([big[:1000], big[1000:]])
        _error(client.post("/v1/reservations", content=chunks), 413, "body_too_large")


# -- listing, metrics, schema ---------------------------------------------------------------


def test_sessions_are_paged_by_cursor(server: Server) -> None:
    """Following ``next_cursor`` visits every session once, in id order."""
    for name in ("page-a", "page-b", "page-c", "page-d", "page-e"):
        _spend(server, name, 3)
    seen: list[str] = []
    cursor: str | None = None
    with server.client(RO) as client:
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = client.get("/v1/sessions", params=params).json()
            assert len(page["sessions"]) <= 2
            seen += [row["session"] for row in page["sessions"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        _error(client.get("/v1/sessions", params={"limit": "0"}), 422, "invalid_request")
    assert seen == sorted(set(seen))
    assert {"page-a", "page-b", "page-c", "page-d", "page-e"} <= set(seen)


def test_metrics_are_prometheus_text(server: Server) -> None:
    """``/metrics`` exposes request counts and each session's spend read from the ledger."""
    _spend(server, "metered", 7)
    with server.client(RO) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'ctxbudget_session_tokens_used{session="metered"} 7.0' in response.text
    assert 'ctxbudget_session_token_cap{session="metered"} 1000.0' in response.text
    assert 'ctxbudget_http_requests_total{method="POST",route="reserve",status="201"}' in (
        response.text
    )
    assert "ctxbudget_open_reservations" in response.text


def test_the_openapi_schema_lists_every_route(server: Server) -> None:
    """``/openapi.json`` documents every route, with the bodies' schemas from the models."""
    with server.client(RO) as client:
        schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/", "/healthz", "/metrics", "/v1/sessions", "/v1/sessions/{id}/budget",
        "/v1/reservations", "/v1/reservations/{id}/commit", "/v1/reservations/{id}/rollback",
        "/v1/reservations/{id}/renew",
    }  # fmt: skip
    reserve = schema["components"]["schemas"]["ReserveBody"]
    assert set(reserve["required"]) == {"tokens", "session"}


def test_an_unknown_route_is_a_json_404(server: Server) -> None:
    """Routing errors use the same JSON error shape."""
    with server.client() as client:
        _error(client.get("/v1/nothing-here"), 404, "not_found")
        _error(client.get("/v1/reservations"), 405, "method_not_allowed")


# -- the race -------------------------------------------------------------------------------


def test_eight_clients_racing_one_cap_never_overspend(server: Server) -> None:
    """8 threads reserve and commit 70 tokens at a time through HTTP until refused: the
    ledger (read here from the same SQLite file) holds every commit and never passes the cap."""
    committed: list[int] = []
    errors: list[str] = []
    start = threading.Barrier(8)

    def client_loop() -> None:
        with server.client() as client:
            start.wait()
            while True:
                response = client.post("/v1/reservations", json={"tokens": 70, "session": "race"})
                if response.status_code == 409:
                    return
                if response.status_code != 201:
                    errors.append(response.text)
                    return
                rid = response.json()["id"]
                done = client.post(f"/v1/reservations/{rid}/commit",
                                   json={"input_tokens": 50, "output_tokens": 20})  # fmt: skip
                if done.status_code != 200:
                    errors.append(done.text)
                    return
                committed.append(70)

    threads = [threading.Thread(target=client_loop) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with SessionBudget(server.ledger) as budget:
        status = budget.status("race")
    assert status.used == sum(committed) <= CAP
    assert status.used > CAP - 70  # filled as far as 70-token calls allow
    assert (status.reserved, status.overspent, status.calls) == (0, 0, len(committed))


# -- the status page ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shown(server: Server) -> dict[str, str]:
    """Three sessions the page must show: exhausted, near the cap, and active."""
    for name, tokens in (("shown-full", CAP), ("shown-near", 900), ("shown-low", 100)):
        _spend(server, name, tokens)
    return {"shown-full": "exhausted", "shown-near": "near_cap", "shown-low": "active"}


def test_the_page_sets_a_cookie_from_the_token_and_lists_sessions(
    server: Server, shown: dict[str, str]
) -> None:
    """``/?token=`` answers 303 with an HttpOnly cookie; the page then lists each session with
    its state, and refreshes itself; without a token it is a 401."""
    with httpx.Client(base_url=server.url) as client:
        _error(client.get("/"), 401, "unauthorized")
        _error(client.get("/", params={"token": "wrong-" + "x" * 30}), 401, "unauthorized")
        login = client.get("/", params={"token": RO})
        assert login.status_code == 303
        assert "httponly" in login.headers["set-cookie"].lower()
        page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<meta http-equiv="refresh"' in page.text
    for session, state in shown.items():
        assert f'<tr data-session="{session}" data-state="{state}">' in page.text
    # the cookie is for the page only: the API still wants the header
    with httpx.Client(base_url=server.url, cookies={"ctxbudget_token": RO}) as client:
        _error(client.get("/v1/sessions"), 401, "unauthorized")


def _chromium() -> str:
    """Debian's chromium and the playwright package; fails under CI when missing."""
    path = shutil.which("chromium")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        message = "needs Debian's chromium (apt-get install chromium) and pip install playwright"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_the_page_in_headless_chromium(
    server: Server, shown: dict[str, str], tmp_path: Path
) -> None:
    """A real browser shows every session with its state and a bar coloured by it; the
    screenshot is kept under the test's tmp dir."""
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    shot = tmp_path / "status-page.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.goto(f"{server.url}/?token={RO}")
            page.wait_for_selector("#sessions tr[data-session]")
            rows = page.eval_on_selector_all(
                "#sessions tr[data-session]",
                "rows => rows.map(r => [r.dataset.session, r.dataset.state,"
                " r.querySelector('.state').textContent,"
                " getComputedStyle(r.querySelector('.fill')).backgroundColor])",
            )
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    seen = {session: (state, text, colour) for session, state, text, colour in rows}
    colours = {"exhausted": "rgb(211, 47, 47)", "near_cap": "rgb(249, 168, 37)",
               "active": "rgb(46, 125, 50)"}  # fmt: skip
    for session, state in shown.items():
        assert seen[session] == (state, state, colours[state])
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 5000
