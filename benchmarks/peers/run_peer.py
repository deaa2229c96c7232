"""Run one peer library on one benchmark input and print one JSON object.

Benchmark-only. This runs inside the peers' own virtual environments, so it imports nothing
from ctxbudget or the rest of this repository: only the standard library, tiktoken and the one
peer library under test (imported lazily by its adapter module beside this file).

Usage::

    TIKTOKEN_CACHE_DIR=/path/with/o200k python benchmarks/peers/run_peer.py PEER INPUT_JSON

PEER is one of ``langchain-trim``, ``priompt``, ``prompt-poet``, ``llamaindex-memory``,
``naive``. INPUT_JSON holds::

    {"cap": int, "repeats": int, "workload": "sections" | "history",
     "sections": [{"name": str, "weight": float, "items": [str, ...]}, ...],
     "history": [{"role": "user" | "assistant" | "system", "content": str}, ...],
     "timeout_s": float (optional), "abort_s": float (optional)}

Items and messages are oldest first. Output (stdout)::

    {"peer", "version", "times_s", "text", "notes"}

``times_s`` holds the wall time of each timed repeat of the peer's own trimming/assembly call
(what each adapter's ``call`` does; its docstring says exactly what), measured with
``time.perf_counter`` after one untimed warm-up call. Converting the input into the peer's
objects (``prepare``) is done once, untimed, and its time is reported in ``notes``.

``timeout_s``: stop repeating after the first call (the warm-up included) slower than this;
what was measured is kept and said in ``notes``. ``abort_s``: a hard limit for one call, enforced
with SIGALRM; a call that is still running then is abandoned and ``notes`` says so (``text`` is
then the last completed call's, or empty).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

#: Peer name -> adapter module beside this file.
PEERS = {
    "langchain-trim": "langchain_trim",
    "priompt": "priompt_scopes",
    "prompt-poet": "prompt_poet_parts",
    "llamaindex-memory": "llamaindex_memory",
    "naive": "naive",
}


class CallAborted(Exception):
    """A single call ran past ``abort_s``."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise CallAborted


def _timed(fn: Any, arg: Any, abort_s: float | None) -> tuple[Any, float]:
    if abort_s:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, abort_s)
    try:
        start = time.perf_counter()
        result = fn(arg)
        elapsed = time.perf_counter() - start
    finally:
        if abort_s:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return result, elapsed


def run(peer: str, data: dict[str, Any]) -> dict[str, Any]:
    import tiktoken

    if peer not in PEERS:
        raise SystemExit(f"unknown peer {peer!r}; one of {', '.join(PEERS)}")
    mod = importlib.import_module(PEERS[peer])
    if not data.get(mod.WORKLOAD):
        raise SystemExit(f"peer {peer} runs the {mod.WORKLOAD!r} workload: the input has none")

    enc = tiktoken.get_encoding("o200k_base")
    cap = int(data["cap"])
    repeats = int(data.get("repeats", 1))
    timeout_s = data.get("timeout_s")
    abort_s = data.get("abort_s")
    notes: list[str] = [mod.NOTES]
    if data.get("workload", mod.WORKLOAD) != mod.WORKLOAD:
        notes.append(f"input says workload {data['workload']!r}; this peer ran {mod.WORKLOAD!r}")

    start = time.perf_counter()
    prepared = mod.prepare(data, enc)
    prepare_s = time.perf_counter() - start

    times: list[float] = []
    result: Any = None
    have_result = False
    try:
        result, warm_s = _timed(mod.call, prepared, abort_s)
        have_result = True
        if timeout_s and warm_s > timeout_s:
            times.append(warm_s)
            notes.append(
                f"warm-up call took {warm_s:.3f}s > timeout_s={timeout_s}: it is the only "
                "(cold) sample in times_s; no timed repeats were run"
            )
        else:
            for _ in range(repeats):
                result, elapsed = _timed(mod.call, prepared, abort_s)
                times.append(elapsed)
                if timeout_s and elapsed > timeout_s:
                    notes.append(
                        f"stopped after {len(times)} of {repeats} repeats: a call took "
                        f"{elapsed:.3f}s > timeout_s={timeout_s}"
                    )
                    break
    except CallAborted:
        notes.append(
            f"ABORTED: a call was still running after abort_s={abort_s}s "
            f"({'during warm-up' if not have_result else f'after {len(times)} timed repeats'}); "
            "times_s holds only the calls that finished"
        )

    text = mod.render(result) if have_result else ""
    tokens = len(enc.encode_ordinary(text))
    if not have_result:
        verdict = "no call finished, so no output"
    elif tokens <= cap:
        verdict = "within cap"
    else:
        verdict = f"EXCEEDS CAP by {tokens - cap}"
    notes.append(
        f"prepare (untimed, once) {prepare_s:.3f}s; output {tokens} o200k tokens, cap {cap}: "
        f"{verdict}"
    )
    return {
        "peer": peer,
        "version": mod.version(),
        "times_s": times,
        "text": text,
        "notes": " | ".join(notes),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    if not os.environ.get("TIKTOKEN_CACHE_DIR"):
        print(
            "warning: TIKTOKEN_CACHE_DIR is not set; tiktoken may try to download o200k_base",
            file=sys.stderr,
        )
    with open(argv[2], encoding="utf-8") as fh:
        data = json.load(fh)
    # Peers print warnings with print(); keep stdout for the one JSON object.
    with contextlib.redirect_stdout(sys.stderr):
        out = run(argv[1], data)
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
