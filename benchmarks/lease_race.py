"""Race rounds: 8 processes x 8 threads spend against one user cap through a shared ledger.

Run by hand: ``python benchmarks/lease_race.py --ledger sqlite --rounds 7`` (or ``--ledger
redis``: a redis-server is started on a free loopback port). Each thread reserves 10-60
tokens, "calls" for 0-``--call-ms`` milliseconds, commits a random use up to its hold, and stops
after 20 refusals. A round overspends when the user scope ends above its cap. The reference
measurement (issue 9): with a 2 s lease and no artificial delay, SQLite overspent the user cap
in 4 of 7 rounds before reservations were renewed by a heartbeat.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from ctxbudget import BudgetExhausted, SessionBudget

CAP = 20_000


def worker(url: str, seed: int, lease: float, call_ms: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    budget = SessionBudget(url, session_cap=None, user_cap=CAP, lease_s=lease)
    totals: list[int] = []

    def thread(s: int) -> None:
        rng = random.Random(s)
        refusals, spent = 0, 0
        while refusals < 20:
            want = rng.randint(10, 60)
            try:
                r = budget.reserve(want, session=f"w{seed}", user="racer")
            except BudgetExhausted:
                refusals += 1
                continue
            time.sleep(rng.random() * call_ms / 1000)
            used = rng.randint(1, want)
            r.commit(used // 2, used - used // 2)
            spent += used
        totals.append(spent)

    threads = [threading.Thread(target=thread, args=(seed * 100 + i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(sum(totals))


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed: apt-get install -y redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return proc, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", choices=["sqlite", "redis"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--call-ms", type=float, default=0.0)
    args = parser.parse_args()
    server = None
    if args.ledger == "redis":
        server, base = start_redis()
    ctx = mp.get_context("spawn")
    overspent_rounds, worst = 0, 0
    try:
        for n in range(args.rounds):
            tmp = tempfile.mkdtemp()
            if args.ledger == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'race.db'}"
            else:
                url = f"{base}?prefix=race-{uuid.uuid4().hex[:8]}:"
            queue = ctx.Queue()
            procs = [
                ctx.Process(target=worker, args=(url, i, args.lease, args.call_ms, queue))
                for i in range(8)
            ]
            start = time.perf_counter()
            for p in procs:
                p.start()
            reported = sum(queue.get(timeout=600) for _ in procs)
            for p in procs:
                p.join()
            elapsed = time.perf_counter() - start
            status = SessionBudget(url, session_cap=None, user_cap=CAP).status(user="racer")
            over = max(0, status.used - CAP)
            overspent_rounds += over > 0
            worst = max(worst, over)
            counted = getattr(status, "overspent", "n/a")
            print(
                f"round {n + 1}: used {status.used} / cap {CAP}, over by {over}, "
                f"commits reported {reported} (ledger {status.used}), overspent counter "
                f"{counted}, {status.calls / elapsed:.0f} pairs/s",
                flush=True,
            )
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if server is not None:
            server.terminate()
    rounds = f"{overspent_rounds} of {args.rounds} rounds"
    print(f"{args.ledger}: over the cap in {rounds} (worst {worst})")


if __name__ == "__main__":
    main()
