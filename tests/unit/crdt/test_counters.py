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
