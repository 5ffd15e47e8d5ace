"""The fleet's shared-state objects: session registry updates and completed-task counter names."""

from __future__ import annotations

import pytest

from shared.crdt import fleet_state
from shared.crdt.or_set import ORSet


def test_a_new_session_replaces_the_observed_ones_and_survives_a_concurrent_removal() -> None:
    old = fleet_state.session_started(None, "alice", "rt/alice/1")
    new = fleet_state.session_started(old, "alice", "rt/alice/2")
    assert new.tags("alice") == {"rt/alice/2"}
    removed_elsewhere = fleet_state.session_ended(old, "alice")  # another replica saw only the old session
    assert new.merge(removed_elsewhere).tags("alice") == {"rt/alice/2"}, "add wins over an unobserved removal"
    assert "alice" not in fleet_state.session_ended(new, "alice")
    assert fleet_state.parse_session_tag("rt/alice/2") == ("rt", 2)


def test_counter_names_round_trip_and_other_objects_are_not_counters() -> None:
    name = fleet_state.completed_counter("capability", "code/review")
    assert fleet_state.parse_counter(name) == ("capability", "code/review")
    assert fleet_state.parse_counter("file-locks") is None
    with pytest.raises(ValueError):
        fleet_state.completed_counter("team", "x")
    counter = fleet_state.incremented(fleet_state.incremented(None, "a"), "b", 2)
    assert counter.value == 3 and isinstance(ORSet(), ORSet)
