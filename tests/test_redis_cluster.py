"""The Redis ledger on a real Redis Cluster: three primaries on loopback ports.

Every key of one ledger namespace carries the prefix as a hash tag, so each step's script
runs on one slot; these tests run the ledger's behaviours there and check the slot.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from typing import Any

import pytest

from ctxbudget import BudgetExhausted, LedgerError, SessionBudget, ledger_from_url
from ctxbudget.session.ledgers import Limit

pytestmark = pytest.mark.redis


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def url(redis_cluster_url: str) -> str:
    """A fresh namespace on the cluster."""
    return f"{redis_cluster_url}&prefix=t-{uuid.uuid4().hex[:12]}:"


def _admin(redis_cluster_url: str) -> Any:
    import redis.cluster

    return redis.cluster.RedisCluster.from_url(redis_cluster_url.split("?", maxsplit=1)[0])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _namespace_keys(admin: Any, prefix: str) -> list[str]:
    """Every key of the namespace, scanned on every primary."""
    pattern = prefix.replace("{", "\\{").replace("}", "\\}") + "*"
    return sorted(_text(k) for k in admin.scan_iter(match=pattern, target_nodes=admin.ALL_NODES))


def test_the_cluster_has_three_primaries(redis_cluster_url: str) -> None:
    admin = _admin(redis_cluster_url)
    assert len(admin.get_primaries()) == 3
    admin.close()


def test_reserve_commit_rollback_renew_and_charge(url: str) -> None:
    """The steps do on a cluster what they do on one node, with the prefix as a hash tag."""
    budget = SessionBudget(url, session_cap=1000, user_cap=5000)
    r = budget.reserve(300, session="s", user="u")
    assert budget.status("s").reserved == 300
    r.renew(30.0)
    r.commit(100, 50, cached_input_tokens=20)
    status = budget.status("s")
    assert (status.used, status.reserved, status.calls) == (150, 0, 1)
    assert status.cached_input_tokens == 20
    budget.reserve(200, session="s", user="u").rollback()
    assert budget.status("s").reserved == 0
    held, settled = budget.ledger.charge(
        "c1", [Limit("session:s", 1000, 60.0)], 40, 10, cost=None, soft_ratio=0.8
    )
    assert held.ok
    assert settled is not None
    assert budget.status("s").used == 200
    budget.record(5, 5, session="s", user="u")
    status = budget.status("s")
    assert (status.used, status.calls) == (210, 3)
    assert budget.ledger.prefix == "{" + url.split("prefix=")[1] + "}"
    budget.close()


def test_session_user_and_global_caps_refuse_across_sessions(url: str) -> None:
    """A user's cap and the global cap refuse in the same one-slot step as the session's."""
    budget = SessionBudget(url, session_cap=1000, user_cap=1500, global_cap=2500)
    budget.reserve(900, session="a", user="u").commit(900, 0)
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(200, session="a", user="u")
    assert "session" in str(info.value)
    budget.reserve(500, session="b", user="u").commit(500, 0)
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(200, session="c", user="u")  # user: 1400 + 200 > 1500
    assert "user" in str(info.value)
    budget.reserve(1000, session="d", user="v").commit(1000, 0)
    with pytest.raises(BudgetExhausted) as info:
        budget.reserve(200, session="e", user="w")  # global: 2400 + 200 > 2500
    assert "global" in str(info.value)
    assert budget.status("e").reserved == 0  # a refused step holds nothing anywhere
    budget.close()


def test_eight_threads_racing_one_cap_never_overspend(url: str) -> None:
    ledger = ledger_from_url(url)
    cap, results = 3000, []

    def worker(seed: int) -> None:
        budget = SessionBudget(ledger, session_cap=cap)
        spent, refusals = 0, 0
        while refusals < 10:
            want = 10 + (seed * 7 + spent) % 50
            try:
                r = budget.reserve(want, session="race")
            except BudgetExhausted:
                refusals += 1
                continue
            used = max(1, want - seed)
            r.commit(used // 2, used - used // 2)
            spent += used
        results.append(spent)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    status = SessionBudget(ledger, session_cap=cap).status("race")
    assert len(results) == 8
    assert status.used == sum(results)
    assert cap - 60 < status.used <= cap
    assert (status.reserved, status.overspent) == (0, 0)
    ledger.close()


def test_an_expired_lease_returns_its_tokens(url: str) -> None:
    budget = SessionBudget(url, session_cap=1000, lease_s=0.3)
    budget.reserve(800, session="s", heartbeat=False)
    with pytest.raises(BudgetExhausted):
        budget.reserve(800, session="s")
    time.sleep(0.5)
    r = budget.reserve(800, session="s")  # the first hold was reclaimed in this step
    r.commit(10, 0)
    status = budget.status("s")
    assert (status.used, status.reserved) == (10, 0)
    budget.close()


def test_replays_are_idempotent(url: str) -> None:
    """A replayed reserve holds nothing more; a replayed charge records nothing more."""
    ledger = ledger_from_url(url)
    limits = [Limit("session:y", 150, 60.0)]
    assert ledger.reserve("same", 100, limits, 30.0).ok
    assert ledger.reserve("same", 100, limits, 30.0).ok  # would not fit twice
    record = ledger.status("session:y")
    assert record is not None
    assert record.reserved == 100
    other = [Limit("session:z", 500, 60.0)]
    first = ledger.charge("c", other, 300, 100, cost=0.25, soft_ratio=0.5)
    assert ledger.charge("c", other, 300, 100, cost=0.25, soft_ratio=0.5) == first
    record = ledger.status("session:z")
    assert record is not None
    assert (record.used, record.calls) == (400, 1)
    ledger.close()


def test_every_key_of_a_namespace_is_on_one_slot(url: str, redis_cluster_url: str) -> None:
    """Holds, records, scope hashes and both sets hash to the slot of the prefix's tag."""
    budget = SessionBudget(url, session_cap=1000, user_cap=5000, global_cap=10**6)
    for i in range(6):
        budget.reserve(10, session=f"s{i}", user=f"u{i % 2}").commit(5, 0)
    budget.reserve(10, session="open", user="u0")
    budget.record(1, 1, session="s0")
    prefix = budget.ledger.prefix
    admin = _admin(redis_cluster_url)
    keys = _namespace_keys(admin, prefix)
    kinds = {k[len(prefix) :].split(":", 1)[0] for k in keys}
    assert {"leases", "scopes", "h", "s", "r"} <= kinds
    slots = {int(admin.execute_command("CLUSTER KEYSLOT", k)) for k in keys}
    assert slots == {int(admin.execute_command("CLUSTER KEYSLOT", prefix))}
    other = SessionBudget(f"{redis_cluster_url}&prefix=other-{uuid.uuid4().hex[:8]}:")
    other.reserve(10, session="s0").commit(1, 0)  # another namespace: its own slot
    assert _namespace_keys(admin, other.ledger.prefix)
    admin.close()
    other.close()
    budget.close()


def test_a_prefix_with_a_hash_tag_is_kept(redis_cluster_url: str) -> None:
    tag = uuid.uuid4().hex[:8]
    ledger = ledger_from_url(f"{redis_cluster_url}&prefix={{{tag}}}:app:")
    assert ledger.prefix == f"{{{tag}}}:app:"  # type: ignore[attr-defined]
    assert ledger.reserve("r", 5, [Limit("global", 10, 60.0)], 30.0).ok
    ledger.close()


def test_scripts_flushed_on_every_primary_are_loaded_per_node(
    url: str, redis_cluster_url: str
) -> None:
    """After SCRIPT FLUSH on every primary, a step is answered NOSCRIPT by the primary of
    its slot, loads the scripts there only, and runs once."""
    budget = SessionBudget(url, session_cap=1000)
    budget.reserve(10, session="f").commit(1, 1)
    admin = _admin(redis_cluster_url)
    admin.script_flush()  # redis-py sends SCRIPT FLUSH to every primary
    sha = budget.ledger._scripts.sha["commit"]  # type: ignore[attr-defined]
    home = admin.get_node_from_key(budget.ledger.prefix)
    assert not admin.get_redis_connection(home).script_exists(sha)[0]
    r = budget.reserve(10, session="f")
    r.commit(4, 3)
    assert budget.status("f").used == 9
    loaded = {
        node.name: bool(admin.get_redis_connection(node).script_exists(sha)[0])
        for node in admin.get_primaries()
    }
    assert loaded == {n: n == home.name for n in loaded}
    admin.close()
    budget.close()


def test_the_cluster_url_options(redis_cluster_url: str) -> None:
    """``redis+cluster://`` is the same as ``redis://...?cluster=true``; a database other
    than 0 is refused; a ``redis://`` ledger keeps its untagged key names."""
    from ctxbudget.session.ledgers._redis import RedisLedger

    node = redis_cluster_url.split("?", maxsplit=1)[0].replace("redis://", "redis+cluster://")
    ledger = RedisLedger.from_url(f"{node}?prefix=opt:")
    assert (ledger.cluster, ledger.prefix) == (True, "{opt:}")
    assert ledger.reserve("r", 5, [Limit("global", None, 60.0)], 30.0).ok
    ledger.close()
    with pytest.raises(LedgerError, match="database 0"):
        RedisLedger.from_url(node.rstrip("/") + "/2")
    standalone = RedisLedger.from_url("redis://127.0.0.1:1/0?prefix=app:")
    assert (standalone.cluster, standalone.prefix) == (False, "app:")


def test_an_unreachable_cluster_fails_closed_or_open() -> None:
    from ctxbudget.session.ledgers._redis import RedisLedger

    port = _free_port()
    closed = RedisLedger.from_url(f"redis+cluster://127.0.0.1:{port}/?timeout=0.2")
    with pytest.raises(LedgerError, match="unreachable"):
        closed.reserve("r", 5, [Limit("global", 10, 60.0)], 30.0)
    opened = RedisLedger.from_url(f"redis+cluster://127.0.0.1:{port}/?timeout=0.2&fail_open=1")
    assert opened.reserve("r", 5, [Limit("global", 10, 60.0)], 30.0).ok
    closed.close()
    opened.close()


def test_a_plain_url_on_a_cluster_node_says_how_to_reach_the_cluster(
    redis_cluster_url: str,
) -> None:
    """Without the cluster option a step's keys are on several slots (CROSSSLOT) or another
    primary's (MOVED): the error says to use ``redis+cluster://`` or ``?cluster=true``."""
    node = redis_cluster_url.split("?", maxsplit=1)[0]
    budget = SessionBudget(f"{node}?prefix=plain-{uuid.uuid4().hex[:8]}:", session_cap=1000)
    with pytest.raises(LedgerError, match=r"cluster=true") as info:
        budget.reserve(10, session="s", user="u")
    assert "Redis Cluster node" in str(info.value)
    budget.close()


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("ctxbudget:", "{ctxbudget:}"),
        ("{app}:", "{app}:"),  # a tag already: kept, the same names on one node and a cluster
        ("team:{t1}:", "team:{t1}:"),
        ("{}x:", "{{}x:}"),  # "{}" is no tag (nothing between the braces)
        ("a}b{", "{a}b{}"),  # the tag is "a", still inside the prefix
    ],
)
def test_a_cluster_prefix_always_holds_one_hash_tag(prefix: str, expected: str) -> None:
    """The tag rule of CLUSTER KEYSLOT: the first "{", then the first "}" after it, with
    something between; every key of the namespace then hashes to the tag's slot."""
    from ctxbudget.session.ledgers._redis_cluster import has_hash_tag, tagged

    assert tagged(prefix) == expected
    assert has_hash_tag(tagged(prefix))


def test_the_cluster_scheme_works_through_ledger_from_url(redis_cluster_url: str) -> None:
    """``redis+cluster://`` is a ledger scheme like any other: SessionBudget takes it."""
    import uuid

    from ctxbudget import SessionBudget, ledger_from_url

    host = redis_cluster_url.split("//", 1)[1].split("/", 1)[0]
    url = f"redis+cluster://{host}/?prefix=t-{uuid.uuid4().hex[:8]}:"
    assert "redis+cluster" in ledger_schemes_list()
    budget = SessionBudget(url, session_cap=100)
    budget.reserve(60, session="s1").commit(50, 10)
    assert budget.status("s1").used == 60
    ledger_from_url(url).close()
    budget.close()


def ledger_schemes_list() -> list[str]:
    from ctxbudget.session.ledgers import ledger_schemes

    return ledger_schemes()
