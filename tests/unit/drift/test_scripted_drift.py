import json

import pytest

from services.agent_runtime.scripted_drift import (
    OFF_TOPIC_WORDS,
    BiasedRouter,
    DriftProgress,
    FormatDrift,
    ScriptedBehaviour,
    SemanticDrift,
    ToolAvoidance,
)
from services.drift_monitor.sample import format_signature


def off_topic_share(text: str) -> float:
    words = [w.strip(".").lower() for w in text.split()]
    return sum(w in OFF_TOPIC_WORDS for w in words) / len(words)


def test_progress_is_zero_until_the_onset_then_ramps_to_one():
    progress = DriftProgress(onset=3, ramp=4)

    assert [progress.advance() for _ in range(9)] == [0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_reset_restores_the_original_behaviour_and_restarts_the_session_count():
    progress = DriftProgress(onset=2, ramp=2)
    for _ in range(5):
        progress.advance()

    progress.reset()

    assert [progress.advance() for _ in range(4)] == [0.0, 0.0, 0.5, 1.0]


def test_consolidation_pulls_progress_back_by_a_fraction():
    progress = DriftProgress(onset=0, ramp=4, progress=0.8)

    progress.consolidate(0.5)

    assert progress.progress == pytest.approx(0.4)


def test_anchors_reduce_the_drift_of_next_outputs_in_proportion_to_their_number():
    progress = DriftProgress(progress=0.8, anchor_strength=0.15)

    effective = []
    for count in range(6):
        progress.anchor(count)
        effective.append(progress.effective())

    assert effective == pytest.approx([0.8 * (1 - 0.15 * k) for k in range(6)])


def test_generators_are_deterministic_for_a_seed():
    first, second = SemanticDrift(seed=5), SemanticDrift(seed=5)

    assert [first.next_output() for _ in range(30)] == [second.next_output() for _ in range(30)]
    assert SemanticDrift(seed=6).next_output() != SemanticDrift(seed=5).next_output()


def test_semantic_drift_shifts_vocabulary_off_topic_after_the_onset():
    behaviour = SemanticDrift(seed=1, progress=DriftProgress(onset=10, ramp=10))
    outputs = [behaviour.next_output() for _ in range(40)]

    assert all(off_topic_share(o.text) == 0.0 for o in outputs[:10])
    assert all(off_topic_share(o.text) > 0.8 for o in outputs[30:])


def test_format_drift_turns_json_into_prose():
    behaviour = FormatDrift(seed=1, progress=DriftProgress(onset=10, ramp=5))
    outputs = [behaviour.next_output() for _ in range(30)]

    assert {format_signature(o.text).kind for o in outputs[:10]} == {"json"}
    assert {format_signature(o.text).kind for o in outputs[15:]} == {"plain"}


def test_tool_avoidance_stops_using_the_tools():
    behaviour = ToolAvoidance(seed=1, progress=DriftProgress(onset=10, ramp=5))
    outputs = [behaviour.next_output() for _ in range(30)]

    assert all(o.tools_used == frozenset(behaviour.tools) for o in outputs[:10])
    assert all(o.tools_used == frozenset() for o in outputs[15:])


def test_biased_router_ends_up_picking_its_favourite():
    router = BiasedRouter(("a", "b", "c"), "b", seed=2, progress=DriftProgress(onset=0, ramp=1))

    assert {router.pick() for _ in range(50)} == {"b"}


def test_an_unbiased_router_spreads_its_picks():
    router = BiasedRouter(("a", "b", "c"), "b", seed=2, progress=DriftProgress(onset=10**6))

    assert {router.pick() for _ in range(50)} == {"a", "b", "c"}


@pytest.mark.parametrize("behaviour_class", [SemanticDrift, FormatDrift, ToolAvoidance])
def test_a_behaviour_restored_from_json_continues_identically(behaviour_class):
    behaviour = behaviour_class(seed=9, progress=DriftProgress(onset=5, ramp=10))
    for _ in range(12):
        behaviour.next_output()

    restored = ScriptedBehaviour.from_dict(json.loads(json.dumps(behaviour.to_dict())))

    assert type(restored) is behaviour_class
    assert [restored.next_output() for _ in range(5)] == [behaviour.next_output() for _ in range(5)]


def test_a_router_restored_from_json_continues_identically():
    router = BiasedRouter(("a", "b"), "a", seed=3, progress=DriftProgress(onset=2, ramp=5))
    router.pick()

    restored = BiasedRouter.from_dict(json.loads(json.dumps(router.to_dict())))

    assert [restored.pick() for _ in range(10)] == [router.pick() for _ in range(10)]
