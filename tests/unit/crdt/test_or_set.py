"""OR-Set: removes delete only observed tags, so concurrent adds survive; replicas converge."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.crdt.or_set import ORSet
from tests.unit.crdt import laws
from tests.unit.crdt.replication import assert_converges, history, run_history

tag_sets = st.frozensets(st.sampled_from(["t1", "t2", "t3", "t4"]), max_size=3)
elements = st.sampled_from(["s1", "s2", "s3"])
or_sets = st.builds(ORSet, st.dictionaries(elements, tag_sets), st.dictionaries(elements, tag_sets))

OPERATIONS = {
    "add:s1": lambda s, r, n: s.add("s1", f"{r}:{n}"),
    "add:s2": lambda s, r, n: s.add("s2", f"{r}:{n}"),
    "remove:s1": lambda s, r, n: s.remove("s1"),
    "remove:s2": lambda s, r, n: s.remove("s2"),
}


@given(or_sets, or_sets, or_sets)
@settings(max_examples=60, deadline=None)
def test_or_set_merge_is_commutative_associative_idempotent(a: ORSet, b: ORSet, c: ORSet) -> None:
    laws.assert_commutative(a, b)
    laws.assert_associative(a, b, c)
    laws.assert_idempotent(a, b)
    laws.assert_round_trips(a, ORSet.from_dict)


@given(history(list(OPERATIONS)), st.data())
@settings(max_examples=40, deadline=None)
def test_or_set_replicas_converge(steps: list, data: st.DataObject) -> None:
    assert_converges(ORSet(), run_history(ORSet(), steps, OPERATIONS), data)


def test_an_add_concurrent_with_a_remove_survives() -> None:
    alice = ORSet().add("session-1", "alice:1")
    bob = alice.remove("session-1")
    alice = alice.add("session-1", "alice:2")
    assert "session-1" in alice.merge(bob)
    assert "session-1" in bob.merge(alice)


def test_a_remove_deletes_every_tag_it_observed() -> None:
    sessions = ORSet().add("session-1", "a:1").add("session-1", "b:1")
    assert "session-1" not in sessions.remove("session-1")


def test_a_remove_on_a_replica_that_saw_nothing_removes_nothing() -> None:
    added = ORSet().add("session-1", "a:1")
    blind_remove = ORSet().remove("session-1")
    assert added.merge(blind_remove).elements == {"session-1"}


def test_an_element_can_be_added_again_after_removal_with_a_new_tag() -> None:
    sessions = ORSet().add("session-1", "a:1").remove("session-1").add("session-1", "a:2")
    assert sessions.tags("session-1") == {"a:2"}


def test_a_redelivered_add_does_not_resurrect_a_removed_element() -> None:
    sessions = ORSet().add("session-1", "a:1").remove("session-1")
    assert "session-1" not in sessions.add("session-1", "a:1")
