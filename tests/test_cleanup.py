"""Per-component cleanup: each step on items with metadata, the reference pipelines, specs,
ComponentMemory with a BudgetManager, and the invariant (freed = archived, nothing lost)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctxbudget import ConfigurationError, ExtractiveSummarizer
from ctxbudget.agents import (
    BudgetManager,
    CleanupAction,
    CleanupContext,
    CleanupPipeline,
    CleanupResult,
    ComponentMemory,
    archived_items,
    cleanup_pipeline,
    pipeline_from_spec,
)
from ctxbudget.memory import MemoryArchive, MemoryItem
from ctxbudget.testing import CharTokenizer

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
TOK = CharTokenizer()


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


class HeadSummarizer:
    """Deterministic: the joined items' first ``max_tokens`` characters (CharTokenizer)."""

    def summarize(self, items: Sequence[str], max_tokens: int) -> str:
        return " ".join(items)[:max_tokens]


def run(
    spec: object, items: list[str], **kw: object
) -> tuple[list[str], CleanupResult, MemoryArchive]:
    archive = MemoryArchive()
    pipeline = spec if isinstance(spec, CleanupPipeline) else pipeline_from_spec(spec)
    left, result = pipeline.run(
        items,
        tokenizer=TOK,
        archive=archive,
        now=NOW,
        summarizer=HeadSummarizer(),
        **kw,  # type: ignore[arg-type]
    )
    return left, result, archive


def test_remove_debug_removes_only_debug_items_older_than_two_hours() -> None:
    old = MemoryItem("trace A", kind="debug", created_at=ago(hours=3))  # 7 tokens
    young = MemoryItem("trace B", kind="debug", created_at=ago(hours=1))
    note = MemoryItem("note C", kind="file", created_at=ago(hours=5))
    left, result, archive = run(["remove_debug"], [old, young, note])
    assert left == ["trace B", "note C"]
    assert result.tokens_freed == 7
    (action,) = result.actions
    assert (action.step, action.removed, action.added, action.tokens_freed) == (
        "remove_debug",
        1,
        0,
        7,
    )
    block = archive.get(action.archived[0])
    assert (
        block.content
        == '{"text": "trace A", "kind": "debug", "created_at": "2026-12-01T09:00:00+00:00"}'
    )
    assert archived_items(block) == ["trace A"]
    assert archived_items(block)[0].metadata() == old.metadata()
    assert block.tokens == 7
    assert block.source == "custom"
    assert block.summary == "remove_debug: 1 item"
    assert (block.start, block.end) == (ago(hours=3), ago(hours=3))


def test_remove_debug_at_exactly_two_hours_keeps_the_item() -> None:
    """The reference's "older than": strictly more than 2 h."""
    left, result, _ = run(
        ["remove_debug"], [MemoryItem("x", kind="debug", created_at=ago(hours=2))]
    )
    assert left == ["x"]
    assert result.tokens_freed == 0


def test_archive_completed_tasks_needs_completed_and_three_idle_hours() -> None:
    done_old = MemoryItem("task one", kind="task", status="completed", last_accessed=ago(hours=4))
    done_new = MemoryItem("task two", kind="task", status="completed", last_accessed=ago(hours=2))
    active = MemoryItem("task six", kind="task", status="active", last_accessed=ago(hours=9))
    left, result, _ = run(["archive_completed_tasks"], [done_old, done_new, active])
    assert left == ["task two", "task six"]
    assert result.tokens_freed == 8


def test_compress_inactive_compresses_large_idle_items_to_ratio() -> None:
    big = MemoryItem("a" * 20, kind="file", last_accessed=ago(hours=2), task_id="t1")
    busy = MemoryItem("b" * 20, kind="file", last_accessed=ago(minutes=5))
    small = MemoryItem("c" * 5, kind="file", last_accessed=ago(hours=2))
    spec = [{"compress_inactive": {"min_tokens": 10}}]
    left, result, archive = run(spec, [big, busy, small])
    assert left == ["a" * 8, "b" * 20, "c" * 5]  # 20 * 0.4 = 8 characters
    short = left[0]
    assert isinstance(short, MemoryItem)
    assert (short.kind, short.task_id, short.loaded) == ("file", "t1", "summary")
    assert result.tokens_freed == 12
    (original,) = archived_items(archive.get(result.archived[0]))
    assert (original.text, original.metadata()) == (big.text, big.metadata())


def test_compress_inactive_default_threshold_is_ten_thousand_tokens() -> None:
    at = MemoryItem("x" * 10_000, last_accessed=ago(hours=2))
    over = MemoryItem("y" * 10_001, last_accessed=ago(hours=2))
    left, result, _ = run(["compress_inactive"], [at, over])
    assert [len(x) for x in left] == [10_000, 4000]  # int(10_001 * 0.4)
    assert result.tokens_freed == 6001


def test_a_summarizer_replaced_on_the_instance_is_asked_through_it() -> None:
    summarizer = ExtractiveSummarizer(TOK)
    summarizer.summarize = HeadSummarizer().summarize  # type: ignore[method-assign]
    big = MemoryItem("a" * 20, kind="file", last_accessed=ago(hours=2))
    left, _ = pipeline_from_spec([{"compress_inactive": {"min_tokens": 10}}]).run(
        [big], tokenizer=TOK, archive=MemoryArchive(), now=NOW, summarizer=summarizer
    )
    assert left == ["a" * 8]


def test_a_custom_summarizer_does_not_load_the_extractive_one() -> None:
    code = (
        "import sys\n"
        "from datetime import datetime, timedelta, timezone\n"
        "from ctxbudget.agents import pipeline_from_spec\n"
        "from ctxbudget.memory import MemoryArchive, MemoryItem\n"
        "from ctxbudget.testing import CharTokenizer\n"
        "class Head:\n"
        "    def summarize(self, items, max_tokens): return ' '.join(items)[:max_tokens]\n"
        "now = datetime(2026, 12, 1, tzinfo=timezone.utc)\n"
        "big = MemoryItem('a' * 20, kind='file', last_accessed=now - timedelta(hours=2))\n"
        "left, _ = pipeline_from_spec([{'compress_inactive': {'min_tokens': 10}}]).run(\n"
        "    [big], tokenizer=CharTokenizer(), archive=MemoryArchive(), now=now,\n"
        "    summarizer=Head())\n"
        "assert left == ['a' * 8], left\n"
        "print('ctxbudget.memory._summarize' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_evict_lru_files_stops_at_eighty_percent_of_capacity() -> None:
    files = [
        MemoryItem("f" * 30, kind="file", last_accessed=ago(minutes=10)),
        MemoryItem("g" * 30, kind="file", last_accessed=ago(minutes=50)),
        MemoryItem("h" * 30, kind="file", last_accessed=ago(minutes=30)),
        MemoryItem("d" * 10, kind="doc", last_accessed=ago(hours=9)),
    ]
    # 100 tokens in 100 of capacity: evict least recently used files until <= 80.
    left, result, _ = run(["evict_lru_files"], files, capacity=100)
    assert [x[0] for x in left] == ["f", "h", "d"]
    assert result.tokens_freed == 30
    left, result, _ = run(["evict_lru_files"], files, capacity=50)  # down to <= 40
    assert [x[0] for x in left] == ["f", "d"]
    assert result.tokens_freed == 60


def test_evict_lru_files_without_capacity_does_nothing_and_says_so() -> None:
    left, result, _ = run(["evict_lru_files"], [MemoryItem("f", kind="file")])
    assert left == ["f"]
    assert result.actions[0].note == "no capacity given"


def test_unload_skills_after_thirty_minutes_and_docs_after_four_hours() -> None:
    items = [
        MemoryItem("skill1", kind="skill", last_accessed=ago(minutes=31)),
        MemoryItem("skill2", kind="skill", last_accessed=ago(minutes=29)),
        MemoryItem("doc1", kind="doc", last_accessed=ago(hours=5)),
        MemoryItem("doc2", kind="doc", last_accessed=ago(hours=3)),
        MemoryItem("doc3", kind="doc"),  # never accessed, no time: never unloaded
    ]
    left, result, _ = run(["unload_skills", "unload_docs"], items)
    assert left == ["skill2", "doc2", "doc3"]
    assert [a.tokens_freed for a in result.actions] == [6, 4]


def test_summary_only_docs_keeps_thirty_percent_of_fully_loaded_docs() -> None:
    full = MemoryItem("z" * 50, kind="doc", loaded="full")
    summary = MemoryItem("y" * 50, kind="doc", loaded="summary")
    left, result, _ = run(["summary_only_docs"], [full, summary])
    assert left == ["z" * 15, "y" * 50]
    assert result.tokens_freed == 35


def test_remove_duplicates_keeps_the_newest_within_its_kinds() -> None:
    items = [
        MemoryItem("Ship it Friday", kind="doc"),
        MemoryItem("ship it friday", kind="interaction"),  # other kind: out of scope
        MemoryItem("ship  it FRIDAY!", kind="doc"),
        "ask Maya",
        "ask Maya",
    ]
    left, result, _archive = run([{"remove_duplicates": {"kinds": ["doc"]}}], items)
    assert left == ["ship it friday", "ship  it FRIDAY!", "ask Maya", "ask Maya"]
    assert result.tokens_freed == 14
    left, result, _ = run(["remove_duplicates"], items)
    assert left == ["ship  it FRIDAY!", "ask Maya"]
    assert result.tokens_freed == 14 + 14 + 8
    assert result.actions[0].removed == 3


def test_summarize_old_interactions_keeps_recent_verbatim() -> None:
    items = [
        MemoryItem(f"user: message {i}", kind="interaction", created_at=ago(hours=5 - i))
        for i in range(5)
    ]
    spec = [{"summarize_old_interactions": {"keep_recent": 2, "max_tokens": 10}}]
    left, result, _ = run(spec, items)
    # messages 0, 1, 2 are > 1 h old and not among the 2 newest; 3 (2 h old) is among them.
    assert left == ["summary: user: mess", "user: message 3", "user: message 4"]
    summary = left[0]
    assert isinstance(summary, MemoryItem)
    assert (summary.kind, summary.created_at) == ("summary", ago(hours=3))
    assert result.tokens_freed == 3 * 15 - 19
    assert (result.actions[0].removed, result.actions[0].added) == (3, 1)


def test_archive_old_interactions_and_completed_agents() -> None:
    items = [
        MemoryItem("hi there", kind="interaction", created_at=ago(hours=25)),
        MemoryItem("hello", kind="interaction", created_at=ago(hours=23)),
        MemoryItem("agent A", kind="agent_state", status="completed"),
        MemoryItem("agent B", kind="agent_state", status="active"),
    ]
    left, result, _ = run(["archive_old_interactions", "archive_completed_agents"], items)
    assert left == ["hello", "agent B"]
    assert [a.tokens_freed for a in result.actions] == [8, 7]


def test_a_removal_that_needs_only_some_tokens_takes_the_least_recently_used() -> None:
    """With tokens_needed, archive_completed_agents removes the completed states least
    recently used first until the need is met (not every completed one); without it, all."""
    states = [
        MemoryItem(
            "agent A done", kind="agent_state", status="completed", last_accessed=ago(hours=1)
        ),
        MemoryItem(
            "agent B done", kind="agent_state", status="completed", last_accessed=ago(hours=3)
        ),
        MemoryItem("agent C live", kind="agent_state", status="active", last_accessed=ago(hours=4)),
        MemoryItem(
            "agent D done", kind="agent_state", status="completed", last_accessed=ago(hours=2)
        ),
    ]  # 12 tokens each
    left, result, archive = run(["archive_completed_agents"], states, tokens_needed=20)
    assert left == ["agent A done", "agent C live"]  # B (3 h idle), then D (2 h) freed 24
    assert result.tokens_freed == 24
    assert archived_items(archive.get(result.archived[0])) == ["agent B done", "agent D done"]
    left, result, _ = run(["archive_completed_agents"], states)
    assert left == ["agent C live"]
    assert result.tokens_freed == 36


def test_a_summary_that_needs_only_some_tokens_folds_only_the_oldest_it_needs() -> None:
    """With tokens_needed, summarize_old_interactions folds the oldest old interactions whose
    tokens less max_tokens cover the need (at least two), and leaves the later ones verbatim."""
    items = [
        MemoryItem(f"user: message {i}", kind="interaction", created_at=ago(hours=9 - i))
        for i in range(6)
    ]  # 15 tokens each; 0-3 are old and not among the 2 newest
    spec = [{"summarize_old_interactions": {"keep_recent": 2, "max_tokens": 10}}]
    left, result, _ = run(spec, items, tokens_needed=15)
    # two items (30 tokens) less the 10-token budget free 20 >= 15: fold 0 and 1 only
    assert left == [
        "summary: user: mess",
        "user: message 2",
        "user: message 3",
        "user: message 4",
        "user: message 5",
    ]
    assert result.tokens_freed == 2 * 15 - 19
    left, _, _ = run(spec, items)
    assert len(left) == 3  # without a need, all four old ones fold


def test_completed_tasks_are_shed_only_to_meet_a_shortfall() -> None:
    """Working memory full of recently completed tasks (under the reference's 3 idle hours)
    and nothing else to free: a run with a need sheds completed tasks least recently used
    first, only as many as it needs; a maintenance run (no need) keeps them."""
    tasks = [
        MemoryItem(f"task {c} done", kind="task", status="completed", last_accessed=ago(minutes=m))
        for c, m in (("a", 10), ("b", 50), ("c", 30))
    ]  # 11 tokens each
    live = MemoryItem("task d open", kind="task", status="active", last_accessed=ago(hours=5))
    pipeline = cleanup_pipeline("working_memory")
    left, result, _ = run(pipeline, [*tasks, live], tokens_needed=15)
    assert left == ["task a done", "task d open"]  # b (50 min), then c (30 min)
    assert result.tokens_freed == 22
    assert [a.step for a in result.actions][-1] == "shed_completed_tasks"
    left, result, _ = run(pipeline, [*tasks, live])
    assert left == [*tasks, live]
    assert result.tokens_freed == 0


def test_items_with_store_given_tokens_are_not_recounted() -> None:
    item = MemoryItem("trace", kind="debug", created_at=ago(hours=3), tokens=900)
    _, result, archive = run(["remove_debug"], [item])
    assert result.tokens_freed == 900
    assert archive.get(result.archived[0]).tokens == 900


def test_pipeline_stops_once_tokens_needed_are_freed() -> None:
    items = [
        MemoryItem("d" * 10, kind="debug", created_at=ago(hours=3)),
        MemoryItem("t" * 10, kind="task", status="completed", last_accessed=ago(hours=4)),
    ]
    pipeline = cleanup_pipeline("working_memory")
    left, result, _ = run(pipeline, items, tokens_needed=5)
    assert [a.step for a in result.actions] == ["remove_debug"]
    assert left == ["t" * 10]
    assert result.tokens_freed == 10
    left, result, _ = run(pipeline, items)
    assert left == []
    assert len(result.actions) == 5
    assert result.actions[-1].note == "runs only to meet a shortfall"


def test_reference_pipelines_have_the_reference_steps() -> None:
    names = {
        c: [s.name for s in cleanup_pipeline(c).steps]
        for c in ("working_memory", "knowledge_base", "interaction_buffer", "agent_context")
    }
    assert names == {
        "working_memory": [
            "remove_debug", "archive_completed_tasks", "compress_inactive", "evict_lru_files",
            "shed_completed_tasks",
        ],
        "knowledge_base": [
            "unload_skills", "unload_docs", "summary_only_docs", "remove_duplicates",
            "compress_large",
        ],
        "interaction_buffer": [
            "archive_old_interactions", "summarize_old_interactions", "remove_duplicates",
        ],
        "agent_context": ["archive_completed_agents"],
    }  # fmt: skip


def test_cleanup_pipeline_overrides_change_or_drop_steps() -> None:
    pipeline = cleanup_pipeline(
        "working_memory", remove_debug={"older_than_s": 60}, evict_lru_files=None
    )
    assert [s.name for s in pipeline.steps] == [
        "remove_debug",
        "archive_completed_tasks",
        "compress_inactive",
        "shed_completed_tasks",
    ]
    left, _, _ = run(pipeline, [MemoryItem("x", kind="debug", created_at=ago(minutes=2))])
    assert left == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["nope"], "cleanup[0]: unknown cleanup step 'nope'"),
        (
            [{"remove_debug": {"older_than": 5}}],
            "cleanup[0]: unknown option 'older_than' of step 'remove_debug'",
        ),
        (["remove_debug", {"compress_inactive": {"ratio": 1.5}}], "cleanup[1]: ratio must be"),
        ([{"remove_debug": 5}], "cleanup[0]: options of step 'remove_debug' must be a mapping"),
        ([{"remove_debug": {}, "x": {}}], "cleanup[0]: a step is a name"),
        (  # a class-level value of the step is no option, and is named as the one at fault
            [{"remove_duplicates": {"_idle": 5}}],
            "cleanup[0]: unknown option '_idle' of step 'remove_duplicates'; known: idle_s, "
            "kinds, older_than_s, status, threshold",
        ),
        ([{"unload_docs": {"idle_s": -1}}], "cleanup[0]: idle_s must be"),
        ([{"unload_docs": {"idle_s": float("inf")}}], "cleanup[0]: idle_s must be finite"),
        (  # more than a timedelta holds: no OverflowError from the step's timedelta
            [{"remove_debug": {"older_than_s": 2**70}}],
            "cleanup[0]: older_than_s must be finite and at most 86399999913600 seconds",
        ),
        ([{"remove_debug": {"older_than_s": 10**400}}], "cleanup[0]: older_than_s must be"),
        ([{"remove_duplicates": {"kinds": []}}], "cleanup[0]: kinds must be"),
        ("memory_of_things", "cleanup: no reference cleanup pipeline for 'memory_of_things'"),
        (5, "cleanup: a pipeline is a list"),
    ],
)
def test_bad_specs_name_the_key(spec: object, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        pipeline_from_spec(spec)
    assert str(info.value).startswith(message)


def test_cleanup_pipeline_rejects_unknown_component_and_stray_override() -> None:
    with pytest.raises(ConfigurationError, match="known: working_memory"):
        cleanup_pipeline("scratch")
    with pytest.raises(ConfigurationError, match="no step 'unload_docs'"):
        cleanup_pipeline("working_memory", unload_docs={})


def test_naive_now_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="timezone-aware"):
        cleanup_pipeline("agent_context").run(
            [], tokenizer=TOK, archive=MemoryArchive(), now=datetime(2026, 1, 1)
        )


def test_component_memory_feeds_a_budget_manager() -> None:
    clock = [NOW]
    memory = ComponentMemory("working_memory", tokenizer=TOK, clock=lambda: clock[0])
    memory.add(MemoryItem("d" * 40, kind="debug", created_at=ago(hours=3)))
    memory.add(MemoryItem("keep me", kind="file", last_accessed=ago(hours=1)))
    assert memory.tokens == 47
    assert memory.items[1].tokens == 7
    manager = BudgetManager(
        100, {"working_memory": 1.0}, cleanup={"working_memory": memory.cleanup}
    )
    manager.used["working_memory"] = memory.tokens
    decision = manager.allocate("working_memory", 80)
    assert (decision.outcome, decision.freed) == ("granted_after_cleanup", 40)
    assert memory.fetch() == ["keep me"]
    assert archived_items(memory.archive.blocks()[0]) == ["d" * 40]
    assert memory.touch("keep me") == 1
    assert memory.items[0].last_accessed == NOW


def test_component_memory_needs_a_pipeline_for_an_unknown_name() -> None:
    with pytest.raises(ConfigurationError, match="give pipeline="):
        ComponentMemory("scratch", tokenizer=TOK)


_KINDS = st.sampled_from(
    ["debug", "task", "file", "skill", "doc", "interaction", "agent_state", None]
)
_ITEMS = st.lists(
    st.builds(
        lambda text, kind, status, hours, loaded: MemoryItem(
            text, kind=kind, status=status, loaded=loaded if kind == "doc" else None,
            created_at=ago(hours=hours), last_accessed=ago(hours=hours / 2),
        ),
        st.text(st.sampled_from("ab c\n"), min_size=1, max_size=40),
        _KINDS,
        st.sampled_from([None, "completed", "active"]),
        st.floats(0, 30),
        st.sampled_from([None, "full"]),
    ),
    max_size=30,
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    _ITEMS,
    st.sampled_from(["working_memory", "knowledge_base", "interaction_buffer", "agent_context"]),
)
def test_freed_tokens_equal_what_was_archived_and_nothing_is_lost(
    items: list[MemoryItem], component: str
) -> None:
    """Every removed or replaced item is in the archive, and freed = before - after."""
    pipeline = cleanup_pipeline(
        component,
        **({"compress_inactive": {"min_tokens": 10}} if component == "working_memory" else {}),
    )
    left, result, archive = run(pipeline, items, capacity=200)
    assert result.tokens_before == sum(len(x) for x in items)
    assert result.tokens_after == sum(len(x) for x in left)
    assert result.tokens_freed == result.tokens_before - result.tokens_after
    assert result.tokens_freed == sum(a.tokens_freed for a in result.actions)
    assert all(a.tokens_freed >= 0 for a in result.actions)
    kept = {id(x) for x in left}
    gone = Counter(_key(x) for x in items if id(x) not in kept)
    restored = [x for i in result.archived for x in archived_items(archive.get(i))]
    assert len(restored) == sum(a.removed for a in result.actions)
    assert not gone - Counter(_key(x) for x in restored)
    for action in result.actions:
        if action.removed and not action.added:
            assert archive.get(action.archived[0]).tokens == action.tokens_freed


def _key(item: MemoryItem) -> tuple[str, tuple[tuple[str, object], ...]]:
    return item.text, tuple(sorted(item.metadata().items()))


def test_summarize_old_interactions_folds_at_most_max_items_a_run() -> None:
    items = [
        MemoryItem(f"user: turn {i}", kind="interaction", created_at=ago(hours=9 - i))
        for i in range(6)
    ]
    spec = [{"summarize_old_interactions": {"keep_recent": 1, "max_tokens": 8, "max_items": 3}}]
    left, result, archive = run(spec, items)
    # the 3 oldest (turns 0-2) are folded; turns 3 and 4 wait for the next run; 5 is recent
    assert left == ["summary: user: tu", "user: turn 3", "user: turn 4", "user: turn 5"]
    assert archived_items(archive.get(result.archived[0])) == [
        "user: turn 0",
        "user: turn 1",
        "user: turn 2",
    ]
    left, result, _ = run(spec, left)  # the old summary is folded with turns 3 and 4
    assert left == ["summary: summary:", "user: turn 5"]
    assert result.actions[0].removed == 3


def test_archived_items_refuses_other_blocks() -> None:
    archive = MemoryArchive()
    block = archive.get(archive.put(["a", "b"], tokens=2))
    with pytest.raises(ConfigurationError, match="not a cleanup step's block"):
        archived_items(block)


def test_compression_goes_largest_first_and_stops_when_the_need_is_met() -> None:
    small = MemoryItem("s" * 30, last_accessed=ago(hours=2))
    large = MemoryItem("l" * 50, last_accessed=ago(hours=2))
    spec = [{"compress_inactive": {"min_tokens": 10}}]
    left, result, _ = run(spec, [small, large], tokens_needed=25)
    assert left == ["s" * 30, "l" * 20]  # 50 -> 20 frees 30 >= 25: the smaller one stays
    assert result.tokens_freed == 30
    left, result, _ = run(
        [{"compress_inactive": {"min_tokens": 10, "max_items": 1}}], [small, large]
    )
    assert left == ["s" * 30, "l" * 20]
    left, result, _ = run(spec, [small, large])
    assert left == ["s" * 12, "l" * 20]
    assert result.tokens_freed == 48


class DropShort:
    """A user-written step: removes items under 3 characters."""

    name = "drop_short"

    def __call__(
        self, items: list[str], context: CleanupContext
    ) -> tuple[list[str], CleanupAction]:
        gone = [x for x in items if len(x) < 3]
        return [x for x in items if len(x) >= 3], context.replaced(self.name, gone, ())


def test_a_user_written_step_runs_in_a_pipeline() -> None:
    pipeline = CleanupPipeline("mine", [DropShort()])
    left, result, archive = run(pipeline, ["ok", "fine", "no"])
    assert left == ["fine"]
    assert (result.tokens_freed, result.component, result.items_after) == (4, "mine", 1)
    assert archived_items(archive.get(result.archived[0])) == ["ok", "no"]
    with pytest.raises(ConfigurationError, match="is not a cleanup step"):
        CleanupPipeline("mine", [42])  # type: ignore[list-item]
