from hypothesis import given, settings
from hypothesis import strategies as st

from services.assigner.agent_view import AgentView
from services.assigner.assign_rule import RoutingRules, can_assign
from services.assigner.breaker import CircuitBreaker
from services.assigner.routing import Assign, Escalate, Wait, route
from tests.unit.assigner.fleet import NOW, agent, open_breaker, probing_breaker, task


def assigned(decision) -> Assign:
    assert isinstance(decision, Assign), decision
    return decision


def test_least_loaded_picks_the_lowest_share_of_capacity_in_use():
    agents = [agent("a", capacity=1, in_flight=0), agent("b", capacity=4, in_flight=1), agent("c", in_flight=1)]
    assert assigned(route(task(), agents, NOW)).agent_id == "a"
    agents[0] = agent("a", capacity=2, in_flight=1)
    assert assigned(route(task(), agents, NOW)).agent_id == "b"


def test_least_loaded_breaks_ties_by_agent_id():
    decision = assigned(route(task(), [agent("b"), agent("a")], NOW))
    assert (decision.agent_id, decision.strategy, decision.backup_for) == ("a", "least_loaded", None)


def test_only_agents_with_the_skill_are_considered():
    agents = [agent("coder", "code"), agent("tester", "test", in_flight=1)]
    assert assigned(route(task(capability="test"), agents, NOW)).agent_id == "tester"


def test_drift_aware_prefers_the_most_stable_capable_agent():
    agents = [agent("steady", stability=0.95, in_flight=1), agent("idle", stability=0.7)]
    decision = assigned(route(task(), agents, NOW, "drift_aware"))
    assert (decision.agent_id, decision.strategy) == ("steady", "drift_aware")


def test_drift_aware_breaks_stability_ties_by_load():
    agents = [agent("a", in_flight=1), agent("b")]
    assert assigned(route(task(), agents, NOW, "drift_aware")).agent_id == "b"


def test_no_strategy_routes_to_an_agent_below_the_reset_threshold():
    agents = [agent("drifting", stability=0.3), agent("busy", in_flight=2)]
    for strategy in ("least_loaded", "drift_aware"):
        assert isinstance(route(task(), agents, NOW, strategy), Wait)


def test_an_open_breaker_on_the_preferred_agent_routes_to_a_backup():
    agents = [agent("a", breaker=open_breaker()), agent("b", in_flight=1)]
    decision = assigned(route(task(), agents, NOW))
    assert (decision.agent_id, decision.backup_for) == ("b", "a")
    assert decision.reason == "breaker of 'a' is open; backup"


def test_the_backup_is_the_best_ranked_allowed_agent():
    agents = [agent("a", breaker=open_breaker()), agent("b", in_flight=1), agent("c", capacity=4, in_flight=1)]
    assert assigned(route(task(), agents, NOW)).agent_id == "c"


def test_escalates_to_a_manager_when_every_able_agent_has_an_open_breaker():
    agents = [agent("a", breaker=open_breaker()), agent("b", breaker=open_breaker()), agent("dead", last_heartbeat=0)]
    decision = route(task(), agents, NOW)
    assert isinstance(decision, Escalate)
    assert decision.to_role == "manager"
    assert decision.reason == "every live agent with capability 'code' has an open breaker (a, b)"


def test_escalation_role_is_configurable():
    decision = route(task(), [agent("a", breaker=open_breaker())], NOW, rules=RoutingRules(escalate_to="high-level"))
    assert isinstance(decision, Escalate) and decision.to_role == "high-level"


def test_escalates_when_no_registered_agent_has_the_capability():
    decision = route(task(capability="legal"), [agent("a")], NOW)
    assert isinstance(decision, Escalate)
    assert decision.reason == "no registered agent has capability 'legal'"


def test_waits_when_able_agents_are_only_busy():
    decision = route(task(), [agent("a", in_flight=2), agent("b", breaker=open_breaker())], NOW)
    assert isinstance(decision, Wait)
    assert decision.reason == "every able agent with capability 'code' is busy or probing"


def test_waits_when_capable_agents_are_restarting():
    decision = route(task(), [agent("a", last_heartbeat=NOW - 60)], NOW)
    assert isinstance(decision, Wait)
    assert decision.reason == "no agent with capability 'code' is both alive and stable right now (1 known)"


def test_waits_rather_than_escalates_while_a_half_open_agent_probes():
    assert isinstance(route(task(), [agent("a", breaker=probing_breaker())], NOW), Wait)


def test_a_half_open_agent_with_a_free_slot_receives_a_probe():
    assert assigned(route(task(), [agent("a", breaker=open_breaker(NOW - 300))], NOW)).agent_id == "a"


def test_an_open_breaker_whose_timeout_elapsed_is_no_reason_to_use_a_backup():
    agents = [agent("a", breaker=open_breaker(NOW - 300)), agent("b", in_flight=1)]
    decision = assigned(route(task(), agents, NOW))
    assert (decision.agent_id, decision.backup_for) == ("a", None)


def test_a_task_that_is_not_pending_is_not_routed():
    decision = route(task(state="assigned"), [agent("a")], NOW)
    assert isinstance(decision, Wait) and decision.reason == "task is assigned, not pending"


fleets = st.lists(
    st.builds(
        lambda i, caps, cap, load, stab, age, broken: AgentView(
            f"a{i}",
            capabilities=frozenset(caps),
            capacity=cap,
            in_flight=min(load, cap),
            stability=stab,
            last_heartbeat=NOW - age,
            breaker=open_breaker() if broken else CircuitBreaker(),
        ),
        st.integers(0, 20),
        st.sets(st.sampled_from(["code", "test"]), min_size=1),
        st.integers(1, 3),
        st.integers(0, 3),
        st.floats(0, 1),
        st.floats(0, 30),
        st.booleans(),
    ),
    max_size=8,
    unique_by=lambda a: a.agent_id,
)


@settings(max_examples=150, deadline=None)
@given(fleets, st.sampled_from(["least_loaded", "drift_aware"]))
def test_routing_assigns_exactly_when_some_agent_satisfies_the_rule(agents, strategy):
    decision = route(task(), agents, NOW, strategy)
    eligible = {a.agent_id for a in agents if can_assign(task(), a, NOW)}
    if eligible:
        assert isinstance(decision, Assign) and decision.agent_id in eligible
    else:
        assert not isinstance(decision, Assign)
