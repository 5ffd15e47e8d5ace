"""End-to-end drift scenarios: scripted drifting agents observed by the drift monitor's pure logic."""

import pytest

from services.agent_runtime.scripted_drift import (
    BiasedRouter,
    DriftProgress,
    FormatDrift,
    ScriptedBehaviour,
    SemanticDrift,
    ToolAvoidance,
)
from services.drift_monitor.agent_state import AgentDriftState
from services.drift_monitor.anchoring import anchor_count
from services.drift_monitor.coordination import CoordinationPolicy, RoutingDecision, detect_routing_skew
from services.drift_monitor.embedding import HashedNgramEmbedding
from services.drift_monitor.memory import EpisodicMemory
from services.drift_monitor.sample import BehaviourSample
from services.drift_monitor.signals import DriftAlert, ResetRequested

EMBEDDING = HashedNgramEmbedding()
ONSET = 100
BEHAVIOURS = [SemanticDrift, FormatDrift, ToolAvoidance]


def observe(state: AgentDriftState, behaviour: ScriptedBehaviour) -> list:
    output = behaviour.next_output()
    sample = BehaviourSample(
        state.agent_id, state.role, output.text, output.tools_used, output.memory_used, output.latency_ms
    )
    return state.observe(sample, EMBEDDING.embed_one(output.text))


def first_alert(state: AgentDriftState, behaviour: ScriptedBehaviour, interactions: int) -> int | None:
    for i in range(1, interactions + 1):
        if any(isinstance(s, DriftAlert) for s in observe(state, behaviour)):
            return i
    return None


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("behaviour_class", BEHAVIOURS)
def test_each_drift_scenario_is_alerted_within_fifty_interactions_of_onset(behaviour_class, seed):
    behaviour = behaviour_class(seed=seed, progress=DriftProgress(onset=ONSET))

    alert = first_alert(AgentDriftState("a1", "worker"), behaviour, ONSET + 50)

    assert alert is not None
    assert ONSET < alert <= ONSET + 50


@pytest.mark.parametrize("behaviour_class", BEHAVIOURS)
def test_a_stable_agent_raises_no_alert_over_a_thousand_interactions(behaviour_class):
    behaviour = behaviour_class(seed=11, progress=DriftProgress(onset=10**9))
    state = AgentDriftState("a1", "worker")

    assert first_alert(state, behaviour, 1000) is None
    assert state.stability > 0.8


def test_resetting_agent_and_monitor_restores_stability():
    behaviour = SemanticDrift(seed=4, progress=DriftProgress(onset=ONSET))
    state = AgentDriftState("a1", "worker")
    for _ in range(ONSET + 80):
        if any(isinstance(s, ResetRequested) for s in observe(state, behaviour)):
            break
    assert state.reset_requested

    behaviour.reset()
    state.reset()
    signals = [s for _ in range(ONSET) for s in observe(state, behaviour)]

    assert not [s for s in signals if isinstance(s, DriftAlert)]
    assert state.stability > 0.9


def test_mitigations_keep_a_drifting_agent_more_stable_than_no_mitigation():
    def lowest_stability(mitigate: bool) -> float:
        behaviour = SemanticDrift(seed=8, progress=DriftProgress(onset=ONSET))
        state, memory = AgentDriftState("a1", "worker"), EpisodicMemory("a1")
        lowest = 1.0
        for _ in range(300):
            observe(state, behaviour)
            request = memory.record("output")
            if mitigate:
                behaviour.anchor(anchor_count(state.last_drift))
                if request is not None:
                    memory.apply_summary(request.through, "summary")
                    behaviour.consolidate()
            lowest = min(lowest, state.stability)
        return lowest

    assert lowest_stability(mitigate=True) > lowest_stability(mitigate=False) + 0.1


ROUTING_POLICY = CoordinationPolicy(window_seconds=600.0)
AGENTS = ("a", "b", "c", "d")


def first_skew_alert(router: BiasedRouter, picks: int) -> int | None:
    decisions: list[RoutingDecision] = []
    capacities = dict.fromkeys(AGENTS, 1)
    for i in range(1, picks + 1):
        now = 10.0 * i  # one task every ten seconds: the window holds sixty
        decisions.append(RoutingDecision(f"t{i}", router.pick(), now))
        decisions = decisions[-100:]
        if detect_routing_skew(decisions, capacities, now, ROUTING_POLICY):
            return i
    return None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_biased_router_is_alerted_within_fifty_tasks_of_onset(seed):
    router = BiasedRouter(AGENTS, "c", seed=seed, progress=DriftProgress(onset=ONSET, ramp=20))

    alert = first_skew_alert(router, ONSET + 50)

    assert alert is not None
    assert ONSET < alert <= ONSET + 50


def test_a_fair_router_raises_no_skew_alert_over_a_thousand_tasks():
    router = BiasedRouter(AGENTS, "c", seed=1, progress=DriftProgress(onset=10**9))

    assert first_skew_alert(router, 1000) is None
