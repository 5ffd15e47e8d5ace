"""Coordination drift from task events: routing skew, redundant work and handoff failures, each reported once."""

from services.drift_monitor.coordination import CoordinationPolicy
from services.drift_monitor.fleet_watch import FleetWatch
from shared.events.catalogue.agents import AgentDeregistered, AgentRegistered
from shared.events.catalogue.tasks import TaskAssigned, TaskFailed, TaskStarted, TaskSucceeded


def watch(*agents: str) -> FleetWatch:
    fleet = FleetWatch(CoordinationPolicy(window_seconds=100, min_tasks=10))
    for agent_id in agents:
        fleet.observe_agent(AgentRegistered(agent_id=agent_id, capabilities=["code"], capacity=1))
    return fleet


def assigned(task: str, agent: str) -> TaskAssigned:
    return TaskAssigned(task_id=task, goal_id="g", agent_id=agent)


def test_a_router_favouring_one_agent_is_reported_once_per_window() -> None:
    fleet = watch("a", "b", "c", "d")
    findings = [f for i in range(30) for f in fleet.observe_task(assigned(f"t{i}", "a" if i % 4 else "b"), float(i))]
    [skew] = findings
    assert skew.kind == "routing_skew" and skew.subject == "a"
    assert skew.details["fair_share"] == 0.25 and skew.details["reason"] == "above_fair_share"
    later = [f for i in range(30, 60) for f in fleet.observe_task(assigned(f"t{i}", "a"), 150.0 + i)]
    assert [f.subject for f in later] == ["a"]


def test_a_balanced_fleet_is_not_reported() -> None:
    fleet = watch("a", "b")
    assert not [f for i in range(40) for f in fleet.observe_task(assigned(f"t{i}", "ab"[i % 2]), float(i))]


def test_a_deregistered_agent_has_no_fair_share() -> None:
    fleet = watch("a", "b")
    fleet.observe_agent(AgentDeregistered(agent_id="b"))
    assert fleet.capacities == {"a": 1}


def test_two_agents_on_one_task_is_redundant_work_reported_once() -> None:
    fleet = watch("a", "b")
    assert fleet.observe_task(TaskStarted(task_id="t", goal_id="g", agent_id="a"), 1.0) == []
    [redundant] = fleet.observe_task(TaskStarted(task_id="t", goal_id="g", agent_id="b"), 2.0)
    assert redundant.kind == "redundant_work" and redundant.details["agents"] == ["a", "b"]
    assert fleet.observe_task(TaskStarted(task_id="u", goal_id="g", agent_id="a"), 3.0) == []
    fleet.observe_task(TaskSucceeded(task_id="t", goal_id="g", agent_id="a"), 4.0)
    assert fleet.active.keys() == {("b", "t"), ("a", "u")}


def test_a_task_failing_after_a_handoff_is_reported() -> None:
    fleet = watch("a", "b")
    fleet.observe_task(assigned("t", "a"), 1.0)
    assert fleet.observe_task(TaskFailed(task_id="t", goal_id="g", agent_id="a", error_class="crash"), 2.0) == []
    fleet.observe_task(TaskAssigned(task_id="t", goal_id="g", agent_id="b", attempt=2), 3.0)
    failed = TaskFailed(task_id="t", goal_id="g", agent_id="b", attempt=2, error_class="crash")
    [handoff] = fleet.observe_task(failed, 4.0)
    assert handoff.kind == "handoff_failure" and handoff.subject == "t"
    assert handoff.details == {"from_agent": "a", "to_agent": "b", "attempt": 2}
    assert fleet.observe_task(failed, 4.0) == []
