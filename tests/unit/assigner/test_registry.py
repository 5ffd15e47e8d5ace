import json

import pytest

from services.assigner.breaker import ARCHITECT_BREAKER, BreakerConfig
from services.assigner.registry import AgentRegistry
from services.assigner.routing import Assign, route
from tests.unit.assigner.fleet import NOW, task


def registry() -> AgentRegistry:
    return (
        AgentRegistry()
        .register("coder", {"code"}, NOW, capacity=2, cost=0.5)
        .register("boss", {"review", "code"}, NOW, role="manager")
    )


def test_register_adds_a_live_closed_idle_agent():
    coder = registry().get("coder")
    assert coder is not None
    assert (coder.role, coder.capabilities, coder.capacity, coder.cost) == ("worker", {"code"}, 2, 0.5)
    assert (coder.in_flight, coder.stability, coder.last_heartbeat) == (0, 1.0, NOW)
    assert coder.breaker.state == "closed"


def test_register_picks_the_breaker_config_from_the_policy():
    agents = AgentRegistry().register("arch", {"architect"}, NOW, role="high-level")
    assert agents.get("arch").breaker.config == ARCHITECT_BREAKER
    assert registry().get("coder").breaker.config == BreakerConfig()


def test_register_refuses_zero_capacity():
    with pytest.raises(ValueError, match="capacity"):
        AgentRegistry().register("a", {"code"}, NOW, capacity=0)


def test_re_registering_keeps_load_stability_and_breaker_but_updates_the_rest():
    agents = registry().change_load("coder", 1).set_stability("coder", 0.7).record_failure("coder", NOW)
    agents = agents.register("coder", {"code", "test"}, NOW + 5, capacity=3)
    coder = agents.get("coder")
    assert (coder.in_flight, coder.stability, coder.breaker.consecutive_failures) == (0, 0.7, 1)
    assert (coder.capabilities, coder.capacity, coder.last_heartbeat) == ({"code", "test"}, 3, NOW + 5)


def test_heartbeats_keep_an_agent_alive_for_15_seconds():
    agents = registry()
    assert agents.is_alive("coder", NOW + 15)
    assert not agents.is_alive("coder", NOW + 15.1)
    assert agents.heartbeat("coder", NOW + 10).is_alive("coder", NOW + 25)


def test_the_heartbeat_timeout_is_configurable():
    assert AgentRegistry(heartbeat_timeout_s=60).register("a", {"x"}, NOW).is_alive("a", NOW + 59)


def test_heartbeats_report_load():
    assert registry().heartbeat("coder", NOW + 1, in_flight=2).get("coder").in_flight == 2


def test_a_late_older_heartbeat_does_not_move_liveness_back():
    agents = registry().heartbeat("coder", NOW + 10).heartbeat("coder", NOW + 2)
    assert agents.get("coder").last_heartbeat == NOW + 10


def test_updates_about_unknown_agents_change_nothing():
    agents = registry()
    assert agents.heartbeat("ghost", NOW) == agents
    assert agents.change_load("ghost", 1) == agents
    assert agents.set_stability("ghost", 0.1) == agents
    assert agents.record_assignment("ghost", NOW) == agents
    assert agents.record_success("ghost", NOW) == agents
    assert agents.record_failure("ghost", NOW) == agents
    assert agents.deregister("ghost") == agents
    assert not agents.is_alive("ghost", NOW)


def test_a_stopped_agent_gets_no_work_until_heard_from_after_its_stop():
    agents = registry().record_failure("coder", NOW).change_load("coder", 1).stopped("coder", NOW + 1)
    assert not agents.is_alive("coder", NOW + 1) and [a.agent_id for a in agents.alive(NOW + 1)] == ["boss"]
    decision = route(task(), agents.views(), NOW + 1)
    assert isinstance(decision, Assign) and decision.agent_id == "boss"
    late = agents.heartbeat("coder", NOW + 0.5)
    assert not late.is_alive("coder", NOW + 2), "a heartbeat sent before the stop, arriving late, does not revive it"
    assert agents.heartbeat("coder", NOW + 3).is_alive("coder", NOW + 3), "one sent after the stop does"
    coder = agents.get("coder")
    assert (coder.in_flight, coder.breaker.consecutive_failures) == (1, 1), "load and breaker are kept"


def test_a_runtime_registering_its_agents_again_brings_them_back_whichever_event_is_handled_first():
    registered_first = registry().register("coder", {"code"}, NOW + 5, capacity=2).stopped("coder", NOW + 1)
    assert registered_first.is_alive("coder", NOW + 6), "the stop of the runtime before the restart is older"
    stopped_first = registry().stopped("coder", NOW + 1).register("coder", {"code"}, NOW + 5, capacity=2)
    assert stopped_first.is_alive("coder", NOW + 6)


def test_an_older_stop_changes_nothing_and_an_unknown_agent_is_ignored():
    agents = registry().stopped("coder", NOW + 5)
    assert agents.stopped("coder", NOW + 1) == agents
    assert agents.stopped("ghost", NOW) == agents


def test_deregister_removes_the_agent():
    agents = registry().deregister("coder")
    assert agents.get("coder") is None
    assert [a.agent_id for a in agents.views()] == ["boss"]


def test_views_and_alive_are_ordered_by_id():
    agents = registry().heartbeat("coder", NOW + 20)
    assert [a.agent_id for a in agents.views()] == ["boss", "coder"]
    assert [a.agent_id for a in agents.alive(NOW + 20)] == ["coder"]


def test_fleet_capabilities_of_all_or_only_live_agents():
    agents = registry().heartbeat("coder", NOW + 20)
    assert agents.fleet_capabilities() == {"code", "review"}
    assert agents.fleet_capabilities(NOW + 20) == {"code"}


def test_load_changes_never_go_below_zero():
    agents = registry().change_load("coder", 2).change_load("coder", -5)
    assert agents.get("coder").in_flight == 0


def test_stability_is_clamped_to_unit_interval():
    assert registry().set_stability("coder", 1.7).get("coder").stability == 1.0
    assert registry().set_stability("coder", -0.2).get("coder").stability == 0.0


def test_record_assignment_adds_load():
    assert registry().record_assignment("coder", NOW).get("coder").in_flight == 1


def test_results_release_load_and_inform_the_breaker():
    agents = registry()
    for _ in range(3):
        agents = agents.record_assignment("coder", NOW).record_failure("coder", NOW)
    coder = agents.get("coder")
    assert (coder.in_flight, coder.breaker.state) == (0, "open")
    assert agents.record_success("coder", NOW).get("coder").breaker.state == "open"


def test_a_success_resets_the_breaker_failure_count():
    agents = registry().record_failure("coder", NOW).record_success("coder", NOW)
    assert agents.get("coder").breaker.consecutive_failures == 0


def test_routing_works_on_registry_views():
    agents = registry().record_assignment("coder", NOW)
    decision = route(task(), agents.views(), NOW)
    assert isinstance(decision, Assign) and decision.agent_id == "boss"


def test_round_trips_through_json():
    agents = registry().record_failure("coder", NOW).set_stability("boss", 0.8).stopped("boss", NOW + 1)
    agents = AgentRegistry(agents.agents, heartbeat_timeout_s=20)
    assert AgentRegistry.from_dict(json.loads(json.dumps(agents.to_dict()))) == agents
