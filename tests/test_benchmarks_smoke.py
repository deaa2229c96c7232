"""The benchmark harness runs end to end at tiny sizes, so it cannot rot (no timing asserted)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks import harness


@pytest.mark.data
@pytest.mark.redis
def test_harness_smoke_run_builds_every_table(shared_data: Path, redis_url: str) -> None:
    """A smoke run measures scale, near-limit and incremental builds within their caps."""
    report = harness.run(smoke=True, peers=False, repeats=1)
    assert [round(r["stored"], -3) > 0 for r in report.scale] == [True, True]
    assert all(r["tokens"] <= 1_000 for r in report.scale + report.near)
    assert report.scale[1]["stored"] > 10 * report.scale[0]["stored"] / 2
    assert report.incremental["messages"] == 200
    assert report.incremental["warm_s"] > 0
    assert [r["row"].split(":")[0].split(" ")[0] for r in report.ledgers] == [
        "memory",
        "memory",
        "memory",
        "memory",  # async
        "sqlite",  # async
        "sqlite",
        "sqlite",
        "sqlite",
        "sqlite",
        "redis",
        "redis",  # async
        "redis",
    ]
    assert all(r["one"] > 0 for r in report.ledgers)
    assert any(r["four_processes"] for r in report.ledgers)  # the 4-process column ran
    assert report.tokenizer_objects["messages"] > 0
    assert report.tokenizer_objects["object_s"] > 0
    text = harness.markdown(report, repeats=1)
    for heading in (
        "## 1. Scale",
        "## 2. Near the limit",
        "## 3. Incremental",
        "## 5. Ledgers",
        "## 6. Tokenizer objects",
    ):
        assert heading in text
    assert any(line.startswith("- Memory ledger >= 100k") for line in harness.goals(report))


@pytest.mark.data
def test_limits_smoke_run_measures_startup_histories_huge_lines_and_dedupe(
    shared_data: Path,
) -> None:
    """Sections 7-10 (startup, W1 histories, huge lines, dedupe) run end to end at tiny sizes;
    dedupe's result equals the all-pairs original's."""
    from benchmarks import limits

    extra = limits.run(smoke=True, repeats=1)
    assert extra["startup"]["after"]["import_ms"] > 0
    assert extra["startup"]["after"]["cli"] > extra["startup"]["after"]["import_ms"]
    assert [r["size"] for r in extra["history"]] == [20_000]
    assert all(r["kept"] > 0 and r["fit_ms"] > 0 for r in extra["history"])
    assert extra["huge"].count("| base64 |") == 1
    assert all(r["equal"] for r in extra["dedupe"])
    text = "\n".join(limits.markdown(extra))
    for heading in (
        "## 7. Startup",
        "## 8. Long chat",
        "## 9. One huge line",
        "## 10. The `dedupe`",
    ):
        assert heading in text
    goals = limits.goals(extra)
    assert len(goals) == 3  # the dedupe goal is at 10,000 items: not in a smoke run
    assert all("met" in g and ("(section 7)" in g or "(section 8)" in g) for g in goals)


@pytest.mark.data
def test_peer_input_is_the_same_for_every_peer(shared_data: Path) -> None:
    """The peers' input holds the 8 default sections as line items and a chat history."""
    data = harness.peer_input(5_000, cap=1_000, repeats=1)
    assert [s["name"] for s in data["sections"]] == list(harness.WEIGHTS)
    assert all(s["items"] and all(i.strip() for i in s["items"]) for s in data["sections"])
    assert {m["role"] for m in data["history"]} <= {"user", "assistant", "system"}
    ours = harness.ctxbudget_on({**data, "workload": "sections"}, "sections", repeats=1)
    from ctxbudget import get_tokenizer

    assert get_tokenizer("o200k_base").count(ours["text"]) <= 1_000


def test_ledger_benchmark_leaves_the_log_level_as_it_found_it() -> None:
    """The benchmark silences the no-persistence warning only while it runs: a test after it
    still sees ctxbudget's warnings (a regression: it once set the level for good)."""
    import logging

    from benchmarks import ledgers

    logger = logging.getLogger("ctxbudget")
    before = logger.level
    with ledgers._quiet():
        assert logger.level == logging.ERROR
    assert logger.level == before


@pytest.mark.data
def test_compaction_benchmark_smoke_run(shared_data: Path) -> None:
    """benchmarks.compaction measures a short loop, small windows, facts and the summary,
    and renders its table (the sliding baseline never goes over the window either)."""
    from benchmarks import compaction

    out = compaction.measure(20)
    assert out["prefix"]["turns"] == 20
    assert out["prefix"]["ours_over"] == 0
    assert out["reproducible"] is True
    assert set(out["small"]) == {"900", "700"}
    assert all(len(v) == 2 for v in out["facts"].values())
    text = compaction.markdown({"after": out})
    assert "prefix-stable share" in text
    assert "facts kept of 10" in text


def test_benchmark_progress_draws_on_stderr_only_when_enabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The harness's stage bar goes to stderr when forced on, and nothing is drawn when off;
    each stage's result is passed through either way."""
    from benchmarks import _progress

    monkeypatch.setenv("CTXBUDGET_PROGRESS", "0")
    with _progress.stages(2) as step:
        assert step("one", lambda: 41) + 1 == 42
    assert capsys.readouterr() == ("", "")
    monkeypatch.setenv("CTXBUDGET_PROGRESS", "1")
    with _progress.stages(2, title="bench") as step:
        assert step("scale", lambda: "x") == "x"
        with pytest.raises(ZeroDivisionError):
            step("fails", lambda: 1 // 0)
    out, err = capsys.readouterr()
    assert out == ""
    assert "bench" in err


def test_words_benchmark_smoke_run(capsys: pytest.CaptureFixture[str]) -> None:
    """Every share of non-ASCII words: the byte-table reader and the pattern agree (the
    benchmark asserts it) and a row is printed."""
    from benchmarks import words

    words.main(["--words", "500", "--repeats", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(words.SHARES)  # the header and one row a share


@pytest.mark.data
def test_cleanup_benchmark_smoke_run(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """benchmarks.cleanup runs the four reference pipelines on 200 real items, prints a row
    for each and the machine's speed measured in the same run."""
    from benchmarks import cleanup

    assert cleanup.main(["--smoke"]) == 0  # no goal is judged below 10k items
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "| 200 |" in line]
    assert sorted(row.split(" | ")[0][2:] for row in rows) == sorted(cleanup.MAKERS)
    speed = re.search(r"same run: ([\d.]+) M o200k tokens/s", out)
    assert speed is not None
    assert float(speed.group(1)) > 0.1
