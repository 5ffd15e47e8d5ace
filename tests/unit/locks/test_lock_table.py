"""Leases decided in log order: two agents never hold overlapping leases on one path, whatever the commands;
the replicated leases, merged in any order, show the owner's latest decisions."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from services.locks.lock_table import FILE_LOCKS, LockDecision, LockTable, live_lease
from shared.crdt.lww_map import LWWMap
from shared.crdt.replication import MergedView, decode_state, encode_state

AGENTS = ("alice", "bob", "carol")
PATHS = ("src/app.py", "README.md")

command = st.tuples(
    st.sampled_from(["acquire", "acquire", "release"]),
    st.sampled_from(AGENTS),
    st.sampled_from(PATHS),
    st.floats(min_value=0.0, max_value=5.0),  # seconds since the previous command (0: at once)
    st.sampled_from([0.5, 1.0, 3.0]),  # lease
)


def run(commands: list[tuple[str, str, str, float, float]]) -> tuple[LockTable, list[LockDecision], list[LWWMap]]:
    table, decisions, published, at = LockTable(), [], [], 1_000.0
    for n, (kind, agent, path, gap, lease) in enumerate(commands):
        at += gap
        if kind == "acquire":
            table, decision = table.acquire(path, agent, f"{agent}-{n}", lease, at)
        else:
            table, decision = table.release(path, agent, f"{agent}-{n}", at)
        decisions.append(decision)
        published.append(table.grants)
    return table, decisions, published


def test_two_agents_asking_for_the_same_file_at_once_do_not_both_get_it() -> None:
    table, first = LockTable().acquire("src/app.py", "alice", "a1", 60, at=10.0)
    table, second = table.acquire("src/app.py", "bob", "b1", 60, at=10.0)
    assert (first.outcome, second.outcome) == ("granted", "denied")
    assert second.holder == "alice" and "alice" in second.reason
    lease = live_lease(table.grants, "src/app.py", 10_000)
    assert lease is not None and lease["holder"] == "alice" and lease["denied"] == ["b1"]


def test_an_expired_lease_can_be_taken_and_a_release_frees_the_path_for_its_holder_only() -> None:
    table, _ = LockTable().acquire("f", "alice", "a1", 1.0, at=10.0)
    table, taken = table.acquire("f", "bob", "b1", 1.0, at=11.5)
    assert taken.outcome == "granted"
    table, ignored = table.release("f", "alice", "a2", at=11.6)
    assert ignored.outcome == "ignored"
    table, released = table.release("f", "bob", "b2", at=11.7)
    assert released.outcome == "released" and live_lease(table.grants, "f", 11_700) is None


def test_the_holder_asking_again_renews_its_lease() -> None:
    table, _ = LockTable().acquire("f", "alice", "a1", 1.0, at=10.0)
    table, renewed = table.acquire("f", "alice", "a2", 5.0, at=10.5)
    assert (renewed.outcome, renewed.granted_at_ms, renewed.expires_at_ms) == ("renewed", 10_000, 15_500)


@given(st.lists(command, max_size=40))
@settings(max_examples=200, deadline=None)
def test_no_two_agents_ever_hold_overlapping_leases_on_one_path(commands: list) -> None:
    _, decisions, _ = run(commands)
    held: dict[str, tuple[str, int, int]] = {}  # path -> (holder, granted_at, expires_at) as decided
    for d in decisions:
        current = held.get(d.path)
        if d.outcome in {"granted", "renewed"}:
            assert d.granted_at_ms is not None and d.expires_at_ms is not None
            if current is not None and current[0] != d.agent_id:
                assert d.granted_at_ms >= current[2], f"{d.agent_id} got {d.path} while {current[0]} held it"
            held[d.path] = (d.agent_id, d.granted_at_ms, d.expires_at_ms)
        elif d.outcome == "released":
            assert current is not None and current[0] == d.agent_id
            held.pop(d.path)
        elif d.outcome == "denied":
            assert current is not None and current[0] == d.holder != d.agent_id


@given(st.lists(command, min_size=1, max_size=30), st.data())
@settings(max_examples=100, deadline=None)
def test_replicas_receiving_the_published_leases_in_any_order_converge_on_the_latest(commands: list, data) -> None:
    table, _, published = run(commands)
    records = [encode_state(FILE_LOCKS, "lock-manager", grants)[1] for grants in published]
    for _ in range(3):
        view = MergedView()
        order = data.draw(st.permutations(records))
        duplicates = data.draw(st.lists(st.sampled_from(records), max_size=5))
        for record in [*order, *duplicates]:
            view.merge_record(record)
        assert view.get(FILE_LOCKS).to_dict() == table.grants.to_dict()


@given(st.lists(command, min_size=1, max_size=30))
@settings(max_examples=50, deadline=None)
def test_a_restored_table_decides_like_the_one_it_replaced(commands: list) -> None:
    table, _, _ = run(commands)
    restored = LockTable.restore(decode_state(encode_state(FILE_LOCKS, "lock-manager", table.grants)[1])[2])
    assert restored.grants.to_dict() == table.grants.to_dict()
    at = table.clock.physical_ms / 1000
    # The same decision; its stamps may differ by the hybrid clock's tick (the original's clock also moved on
    # denials and releases, which leave no grant behind to restore it from).
    after_restore, original = restored.acquire("x", "dave", "d", 1, at)[1], table.acquire("x", "dave", "d", 1, at)[1]
    unstamped = {"granted_at_ms": None, "expires_at_ms": None}
    assert replace(after_restore, **unstamped) == replace(original, **unstamped)
    assert abs((after_restore.granted_at_ms or 0) - (original.granted_at_ms or 0)) <= 1
