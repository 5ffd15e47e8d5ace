from services.assigner.assign_rule import RoutingRules, apply_assignment, can_assign, ineligibility
from tests.unit.assigner.fleet import NOW, agent, open_breaker, probing_breaker, task


def test_an_idle_live_stable_skilled_agent_may_take_a_pending_task():
    assert can_assign(task(), agent("a"), NOW)
    assert ineligibility(task(), agent("a"), NOW) == ()


def test_the_task_must_be_pending():
    assert ineligibility(task(state="assigned"), agent("a"), NOW) == ("task 't1' is assigned, not pending",)


def test_the_agent_must_have_the_skill():
    assert ineligibility(task(capability="deploy"), agent("a"), NOW) == ("agent 'a' lacks capability 'deploy'",)


def test_the_agent_must_have_free_capacity():
    assert ineligibility(task(), agent("a", in_flight=2), NOW) == ("agent 'a' is at capacity (2/2)",)


def test_the_agent_must_have_sent_a_heartbeat_within_the_timeout():
    assert can_assign(task(), agent("a", last_heartbeat=NOW - 15), NOW)
    assert ineligibility(task(), agent("a", last_heartbeat=NOW - 16), NOW) == (
        "agent 'a' last sent a heartbeat 16s ago (timeout 15s)",
    )
    assert can_assign(task(), agent("a", last_heartbeat=NOW - 16), NOW, RoutingRules(heartbeat_timeout_s=30))


def test_an_open_breaker_forbids_assignment():
    assert ineligibility(task(), agent("a", breaker=open_breaker()), NOW) == ("agent 'a' has its circuit breaker open",)


def test_a_half_open_breaker_with_its_probe_slot_taken_forbids_assignment():
    assert ineligibility(task(), agent("a", breaker=probing_breaker()), NOW) == (
        "agent 'a' has its circuit breaker half_open",
    )


def test_a_half_open_breaker_with_a_free_probe_slot_allows_a_probe():
    assert can_assign(task(), agent("a", breaker=open_breaker(NOW - 300)), NOW)


def test_agents_below_the_reset_threshold_are_never_eligible():
    assert can_assign(task(), agent("a", stability=0.5), NOW)
    assert ineligibility(task(), agent("a", stability=0.49), NOW) == ("agent 'a' has stability 0.49, below 0.5",)
    assert can_assign(task(), agent("a", stability=0.49), NOW, RoutingRules(min_stability=0.4))


def test_every_failed_precondition_is_listed():
    reasons = ineligibility(task(state="done", capability="x"), agent("a", in_flight=2, stability=0.1), NOW)
    assert len(reasons) == 4


def test_the_effect_assigns_the_task_and_uses_capacity():
    new_task, new_agent = apply_assignment(task(), agent("a", in_flight=1), NOW)
    assert (new_task.state, new_task.agent_id) == ("assigned", "a")
    assert new_agent.in_flight == 2
    assert not can_assign(task("t2"), new_agent, NOW)


def test_the_effect_takes_a_half_open_probe_slot():
    _, new_agent = apply_assignment(task(), agent("a", breaker=open_breaker(NOW - 300)), NOW)
    assert new_agent.breaker.probes_in_flight == 1
    assert not new_agent.breaker.allows(NOW)
