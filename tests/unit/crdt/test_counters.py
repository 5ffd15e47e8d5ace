"""G-Counter and PN-Counter: merge laws, convergence, and values that match what was counted."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.crdt.g_counter import GCounter
from shared.crdt.pn_counter import PNCounter
from tests.unit.crdt import laws
from tests.unit.crdt.replication import assert_converges, history, run_history

replicas = st.sampled_from(["r0", "r1", "r2", "r3"])
g_counters = st.dictionaries(replicas, st.integers(min_value=0, max_value=100)).map(GCounter)
pn_counters = st.builds(PNCounter, g_counters, g_counters)

G_OPERATIONS = {"inc": lambda state, replica, _: state.increment(replica)}
PN_OPERATIONS = {
    "inc": lambda state, replica, _: state.increment(replica),
    "dec": lambda state, replica, _: state.decrement(replica, 2),
}


@given(g_counters, g_counters, g_counters)
@settings(max_examples=60, deadline=None)
def test_g_counter_merge_is_commutative_associative_idempotent(a: GCounter, b: GCounter, c: GCounter) -> None:
    laws.assert_commutative(a, b)
    laws.assert_associative(a, b, c)
    laws.assert_idempotent(a, b)
    laws.assert_round_trips(a, GCounter.from_dict)


@given(pn_counters, pn_counters, pn_counters)
@settings(max_examples=60, deadline=None)
def test_pn_counter_merge_is_commutative_associative_idempotent(a: PNCounter, b: PNCounter, c: PNCounter) -> None:
    laws.assert_commutative(a, b)
    laws.assert_associative(a, b, c)
    laws.assert_idempotent(a, b)
    laws.assert_round_trips(a, PNCounter.from_dict)


@given(history(["inc"]), st.data())
@settings(max_examples=40, deadline=None)
def test_g_counter_replicas_converge_on_the_number_of_increments(steps: list, data: st.DataObject) -> None:
    converged = assert_converges(GCounter(), run_history(GCounter(), steps, G_OPERATIONS), data)
    assert converged.value == sum(1 for kind, _ in steps if kind == "op")


@given(history(["inc", "dec"]), st.data())
@settings(max_examples=40, deadline=None)
def test_pn_counter_replicas_converge_on_increments_minus_decrements(steps: list, data: st.DataObject) -> None:
    converged = assert_converges(PNCounter(), run_history(PNCounter(), steps, PN_OPERATIONS), data)
    ops = [args[0] for kind, args in steps if kind == "op"]
    assert converged.value == ops.count("inc") - 2 * ops.count("dec")


def test_g_counter_refuses_to_decrease() -> None:
    with pytest.raises(ValueError):
        GCounter().increment("r0", -1)


def test_merging_a_stale_copy_does_not_double_count() -> None:
    counter = GCounter().increment("r0", 3)
    stale = counter
    counter = counter.increment("r0", 2)
    assert counter.merge(stale).value == 5


def test_pn_counter_can_go_negative() -> None:
    assert PNCounter().increment("r0").decrement("r1", 3).value == -2


# -- keyed increments: each key counted once --------------------------------------------------------------------
keys = st.sampled_from([f"task-{i}" for i in range(6)])
keyed_g_counters = st.lists(st.tuples(replicas, keys), max_size=12).map(lambda ops: _apply_keyed(GCounter(), ops))


def _apply_keyed(counter: GCounter, ops: list[tuple[str, str]]) -> GCounter:
    for replica, key in ops:
        counter = counter.increment(replica, key=key)
    return counter


@given(keyed_g_counters, keyed_g_counters, keyed_g_counters)
@settings(max_examples=60, deadline=None)
def test_keyed_g_counter_merge_is_commutative_associative_idempotent(a: GCounter, b: GCounter, c: GCounter) -> None:
    laws.assert_commutative(a, b)
    laws.assert_associative(a, b, c)
    laws.assert_idempotent(a, b)
    laws.assert_round_trips(a, GCounter.from_dict)


@given(st.lists(st.tuples(replicas, keys), max_size=30))
@settings(max_examples=60, deadline=None)
def test_keyed_increments_through_one_merged_view_count_each_key_once(ops: list[tuple[str, str]]) -> None:
    # Replicas that see each other's counts before counting (as a runtime catches up before counting again).
    assert _apply_keyed(GCounter(), ops).value == len({key for _, key in ops})


def test_a_task_reported_again_after_a_crash_is_counted_once() -> None:
    before_crash = GCounter().increment("rt-1", key="t1")
    # The restarted runtime merged its own earlier state back, then the retried task succeeded again.
    after_restart = GCounter().merge(before_crash).increment("rt-1", key="t1").increment("rt-1", key="t2")
    elsewhere = after_restart.increment("rt-2", key="t1")  # retried on another runtime that has the count

    assert after_restart.value == 2 and elsewhere.value == 2 and elsewhere == after_restart


def test_a_replica_remembers_only_its_latest_keys() -> None:
    from shared.crdt.g_counter import RECENT_KEYS

    counter = GCounter()
    for i in range(RECENT_KEYS + 5):
        counter = counter.increment("rt-1", key=f"t{i}")

    assert counter.value == RECENT_KEYS + 5 and len(counter.recent["rt-1"]) == RECENT_KEYS
    assert not counter.counted("t0") and counter.counted(f"t{RECENT_KEYS + 4}")


def test_unkeyed_counters_keep_their_old_wire_form() -> None:
    assert GCounter({"r0": 2}).to_dict() == {"counts": {"r0": 2}}
    assert GCounter.from_dict({"counts": {"r0": 2}}).increment("r0", key="k").to_dict() == {
        "counts": {"r0": 3},
        "recent": {"r0": ["k"]},
    }


def test_a_keyed_pn_counter_undoes_each_start_once_and_only_once_it_was_counted() -> None:
    counter = PNCounter().increment("rt-1", key="t1/1").increment("rt-1", key="t1/1")
    assert counter.value == 1

    ended = counter.decrement("rt-1", key="t1/1").decrement("rt-2", key="t1/1")
    assert ended.value == 0 and ended.decrements.value == 1

    never_started = ended.decrement("rt-1", key="t9/1")  # its start was lost in a crash
    assert never_started == ended


@given(st.lists(st.tuples(st.sampled_from(["start", "end"]), replicas, keys), max_size=30))
@settings(max_examples=60, deadline=None)
def test_keyed_in_flight_never_goes_negative_and_counts_the_started_not_ended(ops: list) -> None:
    counter = PNCounter()
    for action, replica, key in ops:
        counter = counter.increment(replica, key=key) if action == "start" else counter.decrement(replica, key=key)
    started, ended = set(), set()
    for action, _, key in ops:
        if action == "start":
            started.add(key)
        elif key in started:
            ended.add(key)
    assert counter.value == len(started - ended) >= 0


def _starting_point(ops: list[tuple[str, str]]) -> GCounter:
    """A counter that replicas r0..r2 already counted some keys in (so a batch meets remembered keys)."""
    return _apply_keyed(GCounter(), ops)


@given(st.lists(st.tuples(replicas, keys), max_size=12), replicas, st.lists(keys, max_size=20))
@settings(max_examples=80, deadline=None)
def test_increment_keys_equals_keyed_increments_one_by_one(before: list, replica: str, batch: list[str]) -> None:
    counter = _starting_point(before)
    one_by_one = counter
    for key in batch:
        one_by_one = one_by_one.increment(replica, key=key)
    assert counter.increment_keys(replica, batch) == one_by_one


@given(
    st.lists(st.tuples(st.sampled_from(["start", "end"]), replicas, keys), max_size=12),
    replicas,
    st.lists(st.tuples(st.sampled_from([1, -1]), keys), max_size=20),
)
@settings(max_examples=80, deadline=None)
def test_apply_keyed_equals_starts_and_ends_one_by_one(before: list, replica: str, changes: list) -> None:
    counter = PNCounter()
    for action, who, key in before:
        counter = counter.increment(who, key=key) if action == "start" else counter.decrement(who, key=key)
    one_by_one = counter
    for sign, key in changes:
        one_by_one = one_by_one.increment(replica, key=key) if sign > 0 else one_by_one.decrement(replica, key=key)
    assert counter.apply_keyed(replica, changes) == one_by_one


def test_a_batch_counts_a_repeated_key_once_and_remembers_only_the_latest_keys() -> None:
    from shared.crdt.g_counter import RECENT_KEYS

    counter = GCounter().increment("rt-1", key="t0")
    batch = [f"t{i}" for i in range(RECENT_KEYS + 5)] + ["t3", "t3"]
    counted = counter.increment_keys("rt-1", batch)
    assert counted.value == RECENT_KEYS + 5
    assert counted.recent["rt-1"] == tuple(batch[5 : RECENT_KEYS + 5])
    assert counter.increment_keys("rt-1", []) is counter
    with pytest.raises(ValueError, match="cannot decrease"):
        counter.increment_keys("rt-1", ["x"], amount=-1)


def test_on_a_full_counter_a_batch_never_counts_again_a_key_it_evicted() -> None:
    from shared.crdt.g_counter import RECENT_KEYS

    full = GCounter().increment_keys("r", [f"k{i}" for i in range(RECENT_KEYS)])
    # One by one, "new" evicts k0, and k0 then counts again; the batch checks against what was remembered.
    one_by_one = full.increment("r", key="new").increment("r", key="k0")
    assert one_by_one.value == RECENT_KEYS + 2
    assert full.increment_keys("r", ["new", "k0"]).value == RECENT_KEYS + 1
    started = PNCounter(increments=full)
    assert started.apply_keyed("r", [(+1, "new"), (-1, "k0")]).value == RECENT_KEYS  # k0's start is undone
