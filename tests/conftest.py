"""Shared fixtures: tokenizers (offline), the example memory, and the shared real-text corpus."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def data_dir() -> Path:
    """The shared corpus: ``$CTXBUDGET_DATA``, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get("CTXBUDGET_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-text corpus; fails under CI when missing, skips elsewhere."""
    path = data_dir()
    if not (path / "sharegpt" / "conversations.jsonl").is_file():
        message = (
            f"the shared corpus is not at {path}: set CTXBUDGET_DATA to the folder holding "
            f"sharegpt/, pydocs/ and jargon.txt"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def hf_tokenizer_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Hugging Face tokenizer.json: a small byte-level BPE trained in-process, offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.rglob("*.md"))]
    tok.train_from_iterator(corpus, trainer=trainer)
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    tok.save(str(path))
    return path


@pytest.fixture(scope="session")
def example_memory() -> dict[str, str]:
    """The bundled example agent memory, section name -> text."""
    return {
        p.stem: p.read_text(encoding="utf-8") for p in sorted((EXAMPLES / "memory").glob("*.md"))
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port for the whole run; fails under CI if the
    binary is missing, skips elsewhere (install the Debian package redis-server)."""
    import shutil
    import subprocess
    import time

    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed: apt-get install -y redis-server"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    client.close()
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


def _redis_cluster_binaries() -> tuple[str, str]:
    """redis-server and redis-cli; fails under CI when missing, skips elsewhere."""
    import shutil

    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        message = "redis-server and redis-cli are not installed: apt-get install -y redis-server"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return server, cli


def _cluster_ok(port: int) -> bool:
    """Whether the node on ``port`` says ``cluster_state:ok`` with every slot assigned."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    try:
        info = client.execute_command("CLUSTER INFO")  # parsed by redis-py into a dict
        return bool(
            info.get("cluster_state") == "ok" and info.get("cluster_slots_assigned") == "16384"
        )
    except redis.exceptions.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real 3-primary Redis Cluster (``redis-server --cluster-enabled yes`` on free loopback
    ports, joined by ``redis-cli --cluster create``), its ledger URL
    ``redis://127.0.0.1:P/?cluster=true``; the servers are stopped by pid."""
    import subprocess
    import time

    server, cli = _redis_cluster_binaries()
    workdir: Path = tmp_path_factory.mktemp("redis-cluster")
    ports = [_free_port() for _ in range(3)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            args = [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled",
                    "yes", "--cluster-port", str(_free_port()), "--cluster-config-file",
                    f"nodes-{port}.conf", "--cluster-node-timeout", "5000", "--save", "",
                    "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
            procs.append(
                subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        nodes = [f"127.0.0.1:{p}" for p in ports]
        deadline = time.monotonic() + 20
        while True:
            done = subprocess.run(
                [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if done.returncode == 0:
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail(f"redis-cli --cluster create failed: {done.stdout}{done.stderr}")
            time.sleep(0.1)  # a server may not listen yet
        while not all(_cluster_ok(p) for p in ports):
            if time.monotonic() > deadline:
                pytest.fail(f"the cluster on {nodes} did not reach cluster_state:ok")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{ports[0]}/?cluster=true"
    finally:
        for proc in procs:
            proc.terminate()
        deadline = time.monotonic() + 10
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _postgres_bindir() -> Path | None:
    """The newest PostgreSQL server binaries: Debian's ``/usr/lib/postgresql/<N>/bin``, else
    the ``initdb`` on PATH."""
    import glob
    import shutil

    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:
        newest = max(
            found, key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0
        )
        return Path(newest).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _stop_postgres(bindir: Path, data: Path, as_postgres: Callable[[list[str]], list[str]]) -> None:
    """``pg_ctl stop -m fast``; if that fails, SIGKILL the postmaster by its pid."""
    import signal
    import subprocess

    stop = [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop"]
    try:
        subprocess.run(as_postgres(stop), check=True, capture_output=True, timeout=60)
    except (subprocess.SubprocessError, OSError):
        pid_file = data / "postmaster.pid"
        if pid_file.is_file():
            pid = int(pid_file.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server (``initdb`` in a temp dir, as the ``postgres`` user when run as
    root) on a free loopback port for the whole run, with a database ``ctxbudget_test``;
    stopped by ``pg_ctl stop`` (SIGKILL by pid if that fails). Fails under CI when PostgreSQL
    is missing, skips elsewhere (install the Debian package postgresql)."""
    import shlex
    import shutil
    import subprocess
    import tempfile

    bindir = _postgres_bindir()
    if bindir is None:
        message = "PostgreSQL is not installed (no initdb): apt-get install -y postgresql"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    import psycopg

    as_root = os.geteuid() == 0

    def as_postgres(args: list[str]) -> list[str]:
        if not as_root:  # initdb refuses root; a normal user runs the server as itself
            return args
        return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(args)]

    base = Path(tempfile.mkdtemp(prefix="ctxbudget-pg-"))
    if as_root:
        shutil.chown(base, "postgres")
    data, port = base / "data", _free_port()
    initdb = [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
    start = [
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(base / "server.log"),
        "-o",
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1",
        "-w",
        "-t",
        "60",
        "start",
    ]
    try:
        for step in ([*initdb, "--no-sync"], start):
            done = subprocess.run(
                as_postgres(step), check=False, capture_output=True, text=True, timeout=120
            )
            if done.returncode != 0:
                log = base / "server.log"
                tail = log.read_text()[-2000:] if log.is_file() else ""
                pytest.fail(f"{step[0]} failed: {done.stderr.strip()} {tail}")
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True
        ) as admin:
            admin.execute("CREATE DATABASE ctxbudget_test")
        yield f"postgresql://postgres@127.0.0.1:{port}/ctxbudget_test"
    finally:
        if data.is_dir():
            _stop_postgres(bindir, data, as_postgres)
        shutil.rmtree(base, ignore_errors=True)


LEDGERS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=LEDGERS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One URL per ledger kind: the table that drives every session-budget behaviour test.
    Each test gets a fresh ledger (a new SQLite file, a new Redis key prefix, on one node or
    on a 3-primary Redis Cluster, a new PostgreSQL table prefix)."""
    import uuid

    kind = request.param
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    if kind == "postgres":
        base = request.getfixturevalue("postgres_url")
        return f"{base}?prefix=t_{uuid.uuid4().hex[:12]}_"
    base = request.getfixturevalue("redis_url")
    return f"{base}?prefix=test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture(scope="module", autouse=True)
def _collect_what_the_module_left() -> Iterator[None]:
    """Collect garbage when each test module ends, so an event loop or a socket a framework
    left unclosed (llama-index, litellm, langchain and the like on some Python versions) is
    reclaimed there, not reported as an unraisable ResourceWarning inside a later module's
    test. Our own connection handling is tested explicitly (tests/test_redis_async.py counts
    the server's clients)."""
    yield
    import gc
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Collect what the tests left, so that a client a test dropped without close() is closed
    by its ledger's finalizer here, not reported as an unclosed socket after the run."""
    import gc
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
