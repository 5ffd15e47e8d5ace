"""Shared CRDT objects as read-model rows: sessions, counters and leases, merged over replicas."""

from __future__ import annotations

from services.locks.lock_table import FILE_LOCKS, LockTable
from services.projector.crdt_projection import rows_for
from shared.crdt import fleet_state
from shared.crdt.g_counter import GCounter
from shared.crdt.lww_map import LWWMap


def test_sessions_become_one_row_per_agent_with_its_runtimes() -> None:
    sessions = fleet_state.session_started(None, "alice", "rt-1/alice/1000")
    sessions = fleet_state.session_started(sessions, "bob", "rt-2/bob/2000")
    sessions = fleet_state.session_ended(sessions, "bob")
    rows = rows_for(fleet_state.SESSIONS, sessions)
    assert rows is not None and rows.table == "active_sessions" and rows.match == {}
    (alice,) = rows.rows
    assert alice["agent_id"] == "alice" and alice["runtimes"] == ["rt-1"] and alice["sessions"] == ["rt-1/alice/1000"]
    assert alice["started_at"] is not None and alice["started_at"].timestamp() == 1.0


def test_a_counter_is_one_row_replacing_its_own() -> None:
    counter = GCounter({"agent-runtime/rt-1": 2, "agent-runtime/rt-2": 3})
    rows = rows_for(fleet_state.completed_counter("capability", "code"), counter)
    assert rows is not None and rows.match == {"kind": "capability", "name": "code"}
    assert rows.rows[0]["completed"] == 5 and rows.rows[0]["by_replica"] == dict(counter.counts)


def test_leases_become_rows_and_a_released_one_disappears() -> None:
    table, _ = LockTable().acquire("a.py", "alice", "r1", 60, at=100.0, task_id="g/t")
    table, _ = table.acquire("a.py", "bob", "r2", 60, at=101.0)
    table, _ = table.acquire("b.py", "bob", "r3", 60, at=102.0)
    rows = rows_for(FILE_LOCKS, table.grants)
    assert rows is not None
    by_path = {row["path"]: row for row in rows.rows}
    assert by_path["a.py"]["holder"] == "alice" and by_path["a.py"]["denied"] == ["r2"]
    assert by_path["a.py"]["task_id"] == "g/t" and by_path["a.py"]["expires_at"].timestamp() == 160.0
    table, _ = table.release("b.py", "bob", "r4", at=103.0)
    assert [row["path"] for row in rows_for(FILE_LOCKS, table.grants).rows] == ["a.py"]


def test_objects_no_read_model_shows_give_no_rows() -> None:
    assert rows_for("sessions-test", LWWMap()) is None
    assert rows_for(FILE_LOCKS, GCounter()) is None


def test_an_in_flight_counter_is_one_row_per_agent() -> None:
    counter = fleet_state.attempt_started(None, "agent-runtime/rt-1", "t1/1")
    counter = fleet_state.attempt_started(counter, "agent-runtime/rt-1", "t2/1")
    counter = fleet_state.attempt_ended(counter, "agent-runtime/rt-2", "t1/1")  # another replica ends it
    rows = rows_for(fleet_state.in_flight_counter("alice"), counter)
    assert rows is not None and rows.table == "tasks_in_flight" and rows.match == {"agent_id": "alice"}
    (row,) = rows.rows
    assert (row["in_flight"], row["started"], row["ended"]) == (1, 2, 1)
    assert row["by_replica"] == {"agent-runtime/rt-1": 2, "agent-runtime/rt-2": -1}
