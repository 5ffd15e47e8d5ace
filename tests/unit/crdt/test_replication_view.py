"""Replicas exchanging states through the CRDT topic: whatever order (and however often) the records arrive,
every view converges; records that are not CRDT states are refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.crdt.g_counter import GCounter
from shared.crdt.or_set import ORSet
from shared.crdt.replication import BadCrdtRecord, MergedView, decode_state, encode_state

REPLICAS = ("runtime-a", "runtime-b", "assigner")
update = st.tuples(st.sampled_from(REPLICAS), st.sampled_from(["done", "join", "leave"]), st.sampled_from(["s1", "s2"]))


def publish_history(updates: list[tuple[str, str, str]]) -> list[bytes]:
    """Each replica updates its own copy (merged with what it has seen so far) and publishes its whole state."""
    own: dict[str, MergedView] = {r: MergedView() for r in REPLICAS}
    records: list[bytes] = []
    for n, (replica, kind, session) in enumerate(updates):
        view = own[replica]
        if kind == "done":
            state = (view.get("tasks-completed") or GCounter()).increment(replica)
            name = "tasks-completed"
        elif kind == "join":
            state, name = (view.get("sessions") or ORSet()).add(session, f"{replica}:{n}"), "sessions"
        else:
            state, name = (view.get("sessions") or ORSet()).remove(session), "sessions"
        view.merge(name, replica, state)
        record = encode_state(name, replica, view.get(name))[1]
        records.append(record)
        for other in REPLICAS:  # gossip reaches some replicas right away
            if other != replica and n % 2 == 0:
                own[other].merge_record(record)
    return records


@given(st.lists(update, min_size=1, max_size=30), st.data())
@settings(max_examples=100, deadline=None)
def test_views_receiving_the_same_records_in_any_order_converge(updates: list, data: st.DataObject) -> None:
    records = publish_history(updates)
    expected = MergedView()
    for record in records:
        expected.merge_record(record)
    for _ in range(3):
        view = MergedView()
        for record in [
            *data.draw(st.permutations(records)),
            *data.draw(st.lists(st.sampled_from(records), max_size=5)),
        ]:
            view.merge_record(record)
        assert view.canonical() == expected.canonical()
    completed = expected.get("tasks-completed")
    assert completed is None or completed.value == sum(1 for _, kind, _ in updates if kind == "done")


def test_a_state_round_trips_through_its_record() -> None:
    key, value = encode_state("sessions", "r1", ORSet().add("s1", "r1:1"))
    assert key == b"sessions/r1"
    name, replica, state = decode_state(value)
    assert (name, replica, state.elements) == ("sessions", "r1", {"s1"})


def test_records_that_are_not_crdt_states_are_refused() -> None:
    with pytest.raises(BadCrdtRecord):
        decode_state(b'{"object": "x", "replica": "r", "type": "Nope", "state": {}}')
    view = MergedView()
    view.merge("x", "r1", GCounter().increment("r1"))
    with pytest.raises(BadCrdtRecord, match="cannot merge"):
        view.merge_record(encode_state("x", "r2", ORSet())[1])


@pytest.mark.parametrize(
    "value",
    [
        b'{"object": "x", "replica": "r", "type": "GCounter", "state": 5}',
        b'{"object": "x", "replica": "r", "type": "GCounter", "state": {"counts": [1, 2]}}',
        b'{"object": "x", "replica": "r", "type": "PNCounter", "state": {"increments": "abc", "decrements": {}}}',
        b'{"object": "x", "replica": "r", "type": "ORSet", "state": {"added": {"s": [[1]]}}}',
        b'{"object": "x", "replica": "r", "type": "ORSet", "state": {"added": {"s": [1, "t"]}}}',
        b'{"object": "x", "replica": "r", "type": "ORSet", "state": {"removed": {"s": "tag"}}}',
        b'{"object": "x", "replica": "r", "type": "LWWMap", "state": {"registers": {"k": {"value": 1}}}}',
        b'{"object": "x", "replica": "r", "type": "GCounter", "state": {"counts": {"r": "many"}}}',
        b"[1, 2]",
        b"\xff\xfe not json",
    ],
)
def test_a_record_of_the_wrong_shape_is_refused_as_a_bad_record_whatever_breaks_inside(value: bytes) -> None:
    """Before, a state of the right type but the wrong shape raised AttributeError (or another error than the
    ones caught) out of ``decode_state``, which killed every replica's follower thread that read it."""
    with pytest.raises(BadCrdtRecord, match="not a CRDT state record"):
        decode_state(value)
    view = MergedView()
    with pytest.raises(BadCrdtRecord):
        view.merge_record(value)
    assert view.objects == {}


class _Unmergeable:
    """A state that decoded but whose values do not compare with another's."""

    def merge(self, other: _Unmergeable) -> _Unmergeable:
        raise TypeError("'<' not supported between instances of 'str' and 'int'")


def test_a_state_that_decodes_but_does_not_merge_is_refused_and_the_view_keeps_what_it_had() -> None:
    view = MergedView()
    view.merge("x", "r1", _Unmergeable())
    kept = view.get("x")
    with pytest.raises(BadCrdtRecord, match="x: the state from r2 does not merge"):
        view.merge("x", "r2", _Unmergeable())
    assert view.get("x") is kept and view.sources["x"] == {"r1"}
