"""LWW-element-set and LWW map: latest timestamp wins, ties are deterministic, replicas converge."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.crdt.hlc import HybridTimestamp
from shared.crdt.lww_element_set import LWWElementSet
from shared.crdt.lww_map import LWWMap
from shared.crdt.lww_register import LWWRegister
from tests.unit.crdt import laws
from tests.unit.crdt.replication import assert_converges, history, run_history

elements = st.sampled_from(["a.py", "b.py", "c.py"])
stamps = st.builds(
    HybridTimestamp,
    physical_ms=st.integers(min_value=0, max_value=5),
    logical=st.integers(min_value=0, max_value=2),
    replica=st.sampled_from(["r0", "r1", "r2"]),
)
json_values = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3) | st.lists(st.integers(0, 3))


def ts(ms: int, replica: str = "r0", logical: int = 0) -> HybridTimestamp:
    return HybridTimestamp(ms, logical, replica)


@st.composite
def lww_sets(draw: st.DrawFn) -> LWWElementSet:
    return LWWElementSet(draw(st.dictionaries(elements, stamps)), draw(st.dictionaries(elements, stamps)))


@st.composite
def lww_maps(draw: st.DrawFn) -> LWWMap:
    registers = st.builds(LWWRegister, json_values, stamps, st.booleans())
    return LWWMap(draw(st.dictionaries(elements, registers)))


def stamp_for(replica: str, step: int) -> HybridTimestamp:
    # Few distinct physical times, so histories contain concurrent writes and same-stamp add/remove pairs.
    return HybridTimestamp(step % 3, 0, replica)


SET_OPERATIONS = {
    f"{verb}:{element}": (
        (lambda e: lambda s, r, n: s.add(e, stamp_for(r, n)))
        if verb == "add"
        else (lambda e: lambda s, r, n: s.remove(e, stamp_for(r, n)))
    )(element)
    for verb in ("add", "remove")
    for element in ("a.py", "b.py")
}
MAP_OPERATIONS = {
    "set:k": lambda s, r, n: s.set("k", f"{r}-{n}", stamp_for(r, n)),
    "set:j": lambda s, r, n: s.set("j", n, stamp_for(r, n)),
    "delete:k": lambda s, r, n: s.delete("k", stamp_for(r, n)),
}


@given(lww_sets(), lww_sets(), lww_sets())
@settings(max_examples=60, deadline=None)
def test_lww_set_merge_is_commutative_associative_idempotent(
    a: LWWElementSet, b: LWWElementSet, c: LWWElementSet
) -> None:
    laws.assert_commutative(a, b)
    laws.assert_associative(a, b, c)
    laws.assert_idempotent(a, b)
    laws.assert_round_trips(a, LWWElementSet.from_dict)


@given(history(list(SET_OPERATIONS)), st.data())
@settings(max_examples=40, deadline=None)
def test_lww_set_replicas_converge(steps: list, data: st.DataObject) -> None:
    assert_converges(LWWElementSet(), run_history(LWWElementSet(), steps, SET_OPERATIONS), data)


@given(st.lists(st.tuples(st.sampled_from(["add", "remove"]), elements, stamps), max_size=20), st.data())
@settings(max_examples=60, deadline=None)
def test_lww_set_membership_is_decided_by_the_latest_add_versus_the_latest_remove(
    operations: list[tuple[str, str, HybridTimestamp]], data: st.DataObject
) -> None:
    replicas = [LWWElementSet(), LWWElementSet()]
    for verb, element, stamp in operations:
        index = data.draw(st.integers(0, 1))
        replicas[index] = getattr(replicas[index], verb)(element, stamp)
    merged = replicas[0].merge(replicas[1])
    for element in ("a.py", "b.py", "c.py"):
        adds = [s for v, e, s in operations if v == "add" and e == element]
        removes = [s for v, e, s in operations if v == "remove" and e == element]
        expected = bool(adds) and (not removes or max(adds) >= max(removes))
        assert (element in merged) is expected


def test_lww_set_a_later_remove_wins_over_an_earlier_add() -> None:
    files = LWWElementSet().add("a.py", ts(1)).remove("a.py", ts(2))
    assert "a.py" not in files


def test_lww_set_a_later_add_wins_over_an_earlier_remove() -> None:
    files = LWWElementSet().remove("a.py", ts(2)).add("a.py", ts(3))
    assert files.elements == {"a.py"}


def test_lww_set_concurrent_writes_in_the_same_millisecond_are_ordered_by_replica_id() -> None:
    one = LWWElementSet().add("a.py", ts(5, "r1"))
    other = LWWElementSet().remove("a.py", ts(5, "r2"))
    assert "a.py" not in one.merge(other)
    assert "a.py" not in other.merge(one)


def test_lww_set_is_add_wins_when_add_and_remove_share_a_timestamp() -> None:
    assert "a.py" in LWWElementSet().add("a.py", ts(5)).remove("a.py", ts(5))


@given(lww_maps(), lww_maps(), lww_maps())
@settings(max_examples=60, deadline=None)
def test_lww_map_merge_is_commutative_associative_idempotent(a: LWWMap, b: LWWMap, c: LWWMap) -> None:
    laws.assert_commutative(a, b)
    laws.assert_associative(a, b, c)
    laws.assert_idempotent(a, b)
    laws.assert_round_trips(a, LWWMap.from_dict)


@given(history(list(MAP_OPERATIONS)), st.data())
@settings(max_examples=40, deadline=None)
def test_lww_map_replicas_converge(steps: list, data: st.DataObject) -> None:
    assert_converges(LWWMap(), run_history(LWWMap(), steps, MAP_OPERATIONS), data)


def test_lww_map_keeps_the_latest_write_per_key() -> None:
    first = LWWMap().set("a.py", "agent-1", ts(1)).set("b.py", "agent-1", ts(1))
    second = LWWMap().set("a.py", "agent-2", ts(2))
    merged = second.merge(first)
    assert merged.items() == {"a.py": "agent-2", "b.py": "agent-1"}


def test_lww_map_a_deletion_replicates_and_a_later_write_restores_the_key() -> None:
    deleted = LWWMap().set("a.py", "agent-1", ts(1)).delete("a.py", ts(2))
    assert "a.py" not in deleted
    assert deleted.get("a.py", "free") == "free"
    assert deleted.merge(LWWMap().set("a.py", "agent-3", ts(3))).get("a.py") == "agent-3"


def test_lww_register_ties_on_the_same_stamp_resolve_identically_in_both_merge_orders() -> None:
    one = LWWRegister("x", ts(4))
    other = LWWRegister("y", ts(4))
    assert one.merge(other) == other.merge(one) == other
