"""Projections are pure: an event maps to row changes, a batch folds to one write per row."""

from __future__ import annotations

import json

from services.projector.projections import TABLES, changes_for, fold, row_values
from shared.events.catalogue.agents import AgentHeartbeat, AgentRegistered, AgentStopped
from shared.events.catalogue.goals import GoalPlanned, GoalSubmitted, PlannedTask
from shared.events.catalogue.tasks import TaskAssigned, TaskCreated, TaskSucceeded
from shared.events.codec import new_event


def event(payload: object, stream: str = "g1") -> object:
    return new_event(payload, producer="test", stream_id=stream, correlation_id=stream)


def test_a_planned_goal_creates_its_task_rows_with_dependencies() -> None:
    planned = event(
        GoalPlanned(
            goal_id="g1",
            method="fix_bug",
            tasks=[
                PlannedTask(task_id="g1:a", operator="reproduce", capability="test"),
                PlannedTask(task_id="g1:b", operator="debug", capability="analysis", depends_on=["g1:a"]),
            ],
        )
    )
    changes = changes_for(planned)
    goal = next(c for c in changes if c.table == "goals")
    assert goal.columns["status"] == "planned" and goal.columns["tasks_total"] == 2
    tasks = {c.key[0]: c.columns for c in changes if c.table == "tasks"}
    assert tasks["g1:b"]["depends_on"] == ["g1:a"]
    assert tasks["g1:a"]["goal_id"] == "g1"
    assert "status" not in tasks["g1:a"], "task status comes from the tasks topic only"


def test_later_events_win_when_a_batch_is_folded_per_row() -> None:
    batch = [
        event(TaskCreated(task_id="t", goal_id="g1", operator="code", capability="code")),
        event(TaskAssigned(task_id="t", goal_id="g1", agent_id="a1")),
        event(TaskSucceeded(task_id="t", goal_id="g1", agent_id="a1", tokens_used=42, output={"ok": True})),
    ]
    folded = fold(c for e in batch for c in changes_for(e))
    row = folded["tasks"][("t",)]
    assert row["status"] == "succeeded"
    assert row["operator"] == "code"
    assert row["tokens_used"] == 42


def test_row_values_follow_table_order_and_leave_unset_columns_empty() -> None:
    values = row_values("tasks", ("t",), {"status": "running", "output": {"a": 1}})
    columns = TABLES["tasks"][1]
    assert values[columns.index("task_id")] == "t"
    assert values[columns.index("status")] == "running"
    assert json.loads(values[columns.index("output")]) == {"a": 1}
    assert values[columns.index("agent_id")] is None


def test_agent_registration_and_heartbeat_update_the_same_row() -> None:
    batch = [
        event(AgentRegistered(agent_id="a1", capabilities=["code"], capacity=2), stream="a1"),
        event(AgentHeartbeat(agent_id="a1", in_flight=1), stream="a1"),
    ]
    row = fold(c for e in batch for c in changes_for(e))["agents"][("a1",)]
    assert row["capacity"] == 2 and row["in_flight"] == 1 and row["status"] == "alive"


def test_a_stopped_agent_s_row_says_so_and_holds_no_work() -> None:
    batch = [
        event(AgentRegistered(agent_id="a1", capabilities=["code"], capacity=2), stream="a1"),
        event(AgentHeartbeat(agent_id="a1", in_flight=1, lease_waits=1), stream="a1"),
        event(AgentStopped(agent_id="a1", reason="runtime rt stopped"), stream="a1"),
    ]
    row = fold(c for e in batch for c in changes_for(e))["agents"][("a1",)]
    assert (row["status"], row["in_flight"], row["lease_waits"], row["capacity"]) == ("stopped", 0, 0, 2)


def test_commands_only_reach_the_event_log() -> None:
    from shared.events.catalogue.goals import SubmitGoal

    assert changes_for(event(SubmitGoal(goal_id="g1", goal_type="x"))) == []
    assert changes_for(event(GoalSubmitted(goal_id="g1", goal_type="x")))[0].columns["status"] == "submitted"


def test_updated_at_keeps_the_latest_time_whatever_order_topics_arrive_in() -> None:
    planned = event(
        GoalPlanned(goal_id="g1", method="m", tasks=[PlannedTask(task_id="t", operator="o", capability="c")])
    )
    succeeded = event(TaskSucceeded(task_id="t", goal_id="g1", agent_id="a1"))
    forward = fold(c for e in [planned, succeeded] for c in changes_for(e))["tasks"][("t",)]
    backward = fold(c for e in [succeeded, planned] for c in changes_for(e))["tasks"][("t",)]
    assert forward["updated_at"] == backward["updated_at"] == max(planned.occurred_at, succeeded.occurred_at)


def test_a_column_an_event_leaves_unset_keeps_the_value_from_earlier_in_the_batch() -> None:
    """GoalPlanned gives the first task no dependencies ([]); its TaskCreated says nothing (None). Folded in one
    batch, or written in two, the row must end the same ([]): None keeps what is there, as the upsert does."""
    planned = event(
        GoalPlanned(
            goal_id="g1", method="fix_bug", tasks=[PlannedTask(task_id="g1:a", operator="reproduce", capability="test")]
        )
    )
    created = event(TaskCreated(task_id="g1:a", goal_id="g1", operator="reproduce", capability="test"))
    for order in ([planned, created], [created, planned]):
        folded = fold(change for e in order for change in changes_for(e))
        assert folded["tasks"][("g1:a",)]["depends_on"] == []


def test_a_heartbeat_records_the_assignments_waiting_for_file_leases() -> None:
    """They hold no slot, so they are not in ``in_flight``: the agents read model shows them apart."""
    waiting = event(AgentHeartbeat(agent_id="a1", in_flight=0, lease_waits=2), stream="a1")
    row = fold(changes_for(waiting))["agents"][("a1",)]
    assert (row["in_flight"], row["lease_waits"]) == (0, 2)
    assert row_values("agents", ("a1",), row)[TABLES["agents"][1].index("lease_waits")] == 2
