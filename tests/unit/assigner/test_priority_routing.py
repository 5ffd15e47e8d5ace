from services.assigner.routing import Assign, Wait, route_by_priority
from tests.unit.assigner.fleet import NOW, agent, open_breaker, task


def test_tasks_are_served_by_priority_then_age_then_id():
    tasks = [
        task("low", priority=0, created_at=1),
        task("urgent-new", priority=5, created_at=9),
        task("urgent-old", priority=5, created_at=2),
        task("b-tie", priority=1, created_at=3),
        task("a-tie", priority=1, created_at=3),
    ]
    decisions = route_by_priority(tasks, [agent("a", capacity=10)], NOW)
    assert [d.task_id for d in decisions] == ["urgent-old", "urgent-new", "a-tie", "b-tie", "low"]


def test_each_assignment_uses_capacity_before_the_next_task_is_routed():
    decisions = route_by_priority([task("first", priority=2), task("second")], [agent("a", capacity=1)], NOW)
    assert isinstance(decisions[0], Assign) and decisions[0].task_id == "first"
    assert isinstance(decisions[1], Wait) and decisions[1].task_id == "second"


def test_agents_are_picked_least_loaded_so_work_spreads():
    decisions = route_by_priority([task("t1"), task("t2"), task("t3")], [agent("a"), agent("b")], NOW)
    assert [d.agent_id for d in decisions if isinstance(d, Assign)] == ["a", "b", "a"]
    assert all(d.strategy == "priority" for d in decisions if isinstance(d, Assign))


def test_priority_can_use_drift_aware_choice():
    agents = [agent("steady", stability=0.9), agent("shaky", stability=0.6)]
    decisions = route_by_priority([task("t1"), task("t2")], agents, NOW, strategy="drift_aware")
    assert [d.agent_id for d in decisions if isinstance(d, Assign)] == ["steady", "steady"]


def test_a_half_open_agent_gets_only_one_probe_per_batch():
    decisions = route_by_priority([task("t1"), task("t2")], [agent("a", breaker=open_breaker(NOW - 300))], NOW)
    assert isinstance(decisions[0], Assign)
    assert isinstance(decisions[1], Wait)


def test_an_empty_batch_has_no_decisions():
    assert route_by_priority([], [agent("a")], NOW) == ()
