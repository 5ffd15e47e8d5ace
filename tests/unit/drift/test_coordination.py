from services.drift_monitor.coordination import (
    ActiveWork,
    BottleneckAlert,
    CoordinationPolicy,
    HandoffFailureAlert,
    QueueDepthSample,
    RedundantWorkAlert,
    RoutingDecision,
    TaskLifecycleEvent,
    detect_bottlenecks,
    detect_handoff_failures,
    detect_redundant_work,
    detect_routing_skew,
)

EQUAL = {"a": 1, "b": 1, "c": 1, "d": 1}


def routed(agents: str, start: float = 0.0) -> list[RoutingDecision]:
    return [RoutingDecision(f"t{i}", agent, start + i) for i, agent in enumerate(agents)]


def test_balanced_routing_raises_no_alert():
    assert detect_routing_skew(routed("abcd" * 5), EQUAL, now=100.0) == []


def test_an_agent_above_twice_its_fair_share_is_reported():
    (alert,) = detect_routing_skew(routed("a" * 11 + "bcd" * 3), EQUAL, now=100.0)

    assert (alert.agent_id, alert.reason, alert.tasks, alert.window_tasks) == ("a", "above_fair_share", 11, 20)
    assert alert.fair_share == 0.25


def test_fair_share_is_weighted_by_capacity():
    capacities = {"a": 6, "b": 2, "c": 2}

    assert detect_routing_skew(routed("aaaaaabbcc" * 2), capacities, now=100.0) == []


def test_with_two_agents_more_than_eighty_percent_to_one_is_reported():
    (alert,) = detect_routing_skew(routed("aaaaaaaaab" * 2), {"a": 1, "b": 1}, now=100.0)

    assert alert.reason == "above_max_share"
    assert alert.share == 0.9


def test_a_single_eligible_agent_is_never_skewed():
    assert detect_routing_skew(routed("a" * 20), {"a": 1}, now=100.0) == []


def test_too_few_tasks_in_the_window_are_not_judged():
    assert detect_routing_skew(routed("a" * 19), EQUAL, now=100.0) == []


def test_tasks_outside_the_sliding_window_are_forgotten():
    decisions = routed("a" * 20) + routed("abcd" * 5, start=2000.0)

    assert detect_routing_skew(decisions, EQUAL, now=2100.0, policy=CoordinationPolicy(window_seconds=600)) == []


def test_two_agents_on_the_same_task_are_redundant_work():
    alerts = detect_redundant_work([ActiveWork("a", "t1"), ActiveWork("b", "t1"), ActiveWork("c", "t2")])

    assert alerts == [RedundantWorkAlert("task", "t1", ("a", "b"), ("t1",))]


def test_two_agents_editing_the_same_file_for_different_tasks_are_redundant_work():
    alerts = detect_redundant_work(
        [ActiveWork("a", "t1", frozenset({"src/x.py"})), ActiveWork("b", "t2", frozenset({"src/x.py", "y"}))]
    )

    assert alerts == [RedundantWorkAlert("file", "src/x.py", ("a", "b"), ("t1", "t2"))]


def test_one_agent_touching_a_file_from_two_tasks_is_not_redundant():
    work = [ActiveWork("a", "t1", frozenset({"x"})), ActiveWork("a", "t2", frozenset({"x"}))]

    assert detect_redundant_work(work) == []


def test_a_task_failing_after_a_handoff_is_a_handoff_failure():
    events = [
        TaskLifecycleEvent("t1", "a", "assigned", 1.0),
        TaskLifecycleEvent("t1", "b", "assigned", 2.0),
        TaskLifecycleEvent("t1", "b", "failed", 3.0),
    ]

    assert detect_handoff_failures(events) == [HandoffFailureAlert("t1", "a", "b", 3.0)]


def test_a_failure_without_a_handoff_is_not_a_handoff_failure():
    events = [
        TaskLifecycleEvent("t1", "a", "assigned", 1.0),
        TaskLifecycleEvent("t1", "a", "failed", 2.0),
        TaskLifecycleEvent("t1", "a", "assigned", 3.0),
        TaskLifecycleEvent("t1", "a", "failed", 4.0),
    ]

    assert detect_handoff_failures(events) == []


def test_a_handed_over_task_that_succeeds_is_fine():
    events = [
        TaskLifecycleEvent("t1", "a", "assigned", 1.0),
        TaskLifecycleEvent("t1", "b", "assigned", 2.0),
        TaskLifecycleEvent("t1", "b", "succeeded", 3.0),
    ]

    assert detect_handoff_failures(events) == []


def depths(capability: str, values: list[int], step: float = 60.0) -> list[QueueDepthSample]:
    return [QueueDepthSample(capability, depth, i * step) for i, depth in enumerate(values)]


def test_a_queue_over_the_limit_for_long_enough_is_a_bottleneck():
    alerts = detect_bottlenecks(depths("code", [5, 25, 30, 40, 35, 50, 45]), now=360.0)

    assert alerts == [BottleneckAlert("code", 45, since=60.0, duration=300.0)]


def test_a_short_spike_is_not_a_bottleneck():
    assert detect_bottlenecks(depths("code", [5, 25, 30, 5, 25, 30]), now=300.0) == []


def test_a_queue_that_drained_is_not_a_bottleneck():
    assert detect_bottlenecks(depths("code", [30] * 10 + [3]), now=600.0) == []


def test_bottlenecks_are_judged_per_capability():
    samples = depths("code", [30] * 7) + depths("review", [2] * 7)

    assert [a.capability for a in detect_bottlenecks(samples, now=360.0)] == ["code"]
