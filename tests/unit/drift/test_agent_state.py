import json

import pytest

from services.drift_monitor.agent_state import AgentDriftState, DriftSettings
from services.drift_monitor.embedding import HashedNgramEmbedding
from services.drift_monitor.sample import BehaviourSample
from services.drift_monitor.signals import (
    BaselineEstablished,
    DriftAlert,
    DriftRecovered,
    ResetRequested,
    StabilityScored,
)
from services.drift_monitor.thresholds import DriftThresholds, RoleThresholds

EMBEDDING = HashedNgramEmbedding()
TOOLS = frozenset({"read_file", "run_tests"})


def on_topic(i: int) -> BehaviourSample:
    text = f'{{"files": ["src/module_{i % 7}.py"], "status": "done", "summary": "fixed parser test {i}"}}'
    return BehaviourSample("a1", "worker", text, TOOLS, True)


def drifted(i: int) -> BehaviourSample:
    return BehaviourSample("a1", "worker", f"Lovely garlic pasta recipe number {i} for the beach.", frozenset())


def feed(state: AgentDriftState, samples: list[BehaviourSample]) -> list:
    signals = []
    for s in samples:
        signals.extend(state.observe(s, EMBEDDING.embed_one(s.output)))
    return signals


def of_type(signals: list, kind: type) -> list:
    return [s for s in signals if isinstance(s, kind)]


def test_the_baseline_interactions_produce_no_scores():
    state = AgentDriftState("a1", "worker")

    assert feed(state, [on_topic(i) for i in range(19)]) == []
    assert state.baseline is None


def test_the_twentieth_interaction_establishes_the_baseline():
    state = AgentDriftState("a1", "worker")

    signals = feed(state, [on_topic(i) for i in range(20)])

    assert signals == [BaselineEstablished("a1", "worker", 20, 20)]
    assert state.stability == 1.0


def test_the_baseline_size_is_configurable():
    state = AgentDriftState("a1", "worker", DriftSettings(baseline_size=5))

    assert of_type(feed(state, [on_topic(i) for i in range(5)]), BaselineEstablished)


def test_each_interaction_after_the_baseline_is_scored():
    state = AgentDriftState("a1", "worker")
    feed(state, [on_topic(i) for i in range(20)])

    signals = feed(state, [on_topic(i) for i in range(20, 23)])

    assert [s.interaction for s in of_type(signals, StabilityScored)] == [21, 22, 23]
    assert all(s.stability > 0.9 for s in of_type(signals, StabilityScored))


def test_sustained_drift_raises_one_alert_then_one_reset_request():
    state = AgentDriftState("a1", "worker")
    feed(state, [on_topic(i) for i in range(20)])

    signals = feed(state, [drifted(i) for i in range(60)])

    alerts, resets = of_type(signals, DriftAlert), of_type(signals, ResetRequested)
    assert len(alerts) == 1
    assert len(resets) == 1
    assert alerts[0].interaction <= resets[0].interaction
    assert resets[0].stability < 0.5


def test_a_sustained_shift_is_alerted_by_the_cusum_before_stability_falls() -> None:
    state = AgentDriftState("a1", "worker")
    feed(state, [on_topic(i) for i in range(20)])

    [alert] = of_type(feed(state, [drifted(i) for i in range(3)]), DriftAlert)

    assert alert.interaction == 22 and alert.stability > 0.6
    assert alert.reason == "cusum" and alert.component in ("semantic", "format", "tools")
    assert alert.statistic is not None and alert.limit is not None and alert.statistic > alert.limit


def test_with_the_cusum_off_the_alert_comes_from_stability() -> None:
    ema_only = DriftThresholds(cusum_h=0.0)
    state = AgentDriftState("a1", "worker", DriftSettings(thresholds=RoleThresholds(default=ema_only)))
    feed(state, [on_topic(i) for i in range(20)])

    [alert] = of_type(feed(state, [drifted(i) for i in range(60)]), DriftAlert)

    assert alert.reason == "stability" and alert.component is None
    assert alert.stability < 0.6


def test_the_episode_does_not_recover_while_a_component_is_still_shifted() -> None:
    state = AgentDriftState("a1", "worker")
    feed(state, [on_topic(i) for i in range(20)] + [drifted(i) for i in range(3)])
    assert state.alerting and state.detector is not None and state.detector.any_shifted

    # Stability is back above recover_at after a few good outputs, the CUSUM needs longer to clear.
    signals = feed(state, [on_topic(i) for i in range(3)])
    assert state.stability >= state.thresholds.recover_at
    assert of_type(signals, DriftRecovered) == []

    [recovered] = of_type(feed(state, [on_topic(i) for i in range(40)]), DriftRecovered)
    assert recovered.interaction > 26 and not state.detector.any_shifted


def test_a_shift_that_persists_despite_stable_looking_scores_requests_a_reset() -> None:
    # A mild, sustained shift (one habitual tool dropped of two): significant for the CUSUM, while the
    # stability EMA stays far above the reset line, as it does when anchoring damps a drift.
    state = AgentDriftState("a1", "worker")
    feed(state, [on_topic(i) for i in range(20)])
    mild = [BehaviourSample("a1", "worker", on_topic(i).output, frozenset({"read_file"}), True) for i in range(40)]

    signals = feed(state, mild)

    [alert], [reset] = of_type(signals, DriftAlert), of_type(signals, ResetRequested)
    assert alert.reason == "cusum" and alert.component == "tools"
    assert reset.reason == "shift" and reset.component == "tools" and reset.stability > 0.5
    assert reset.interaction == alert.interaction + state.thresholds.shift_reset_after - 1


def test_with_shift_resets_off_only_stability_requests_a_reset() -> None:
    no_shift_reset = DriftThresholds(shift_reset_after=0)
    state = AgentDriftState("a1", "worker", DriftSettings(thresholds=RoleThresholds(default=no_shift_reset)))
    feed(state, [on_topic(i) for i in range(20)])
    mild = [BehaviourSample("a1", "worker", on_topic(i).output, frozenset({"read_file"}), True) for i in range(60)]

    signals = feed(state, mild)

    assert of_type(signals, DriftAlert) and not of_type(signals, ResetRequested)


def test_a_record_stored_before_the_detector_existed_gets_one_from_its_baseline() -> None:
    state = AgentDriftState("a1", "worker")
    feed(state, [on_topic(i) for i in range(20)])
    old = state.to_dict()
    del old["detector"]

    restored = AgentDriftState.from_dict(old)
    signals = feed(restored, [drifted(i) for i in range(3)])

    assert of_type(signals, DriftAlert)[0].reason == "cusum"
    assert restored.detector is not None and restored.detector.stats == state.detector.stats


def test_recovery_clears_the_alert_and_a_later_episode_alerts_again():
    state = AgentDriftState("a1", "worker")
    feed(state, [on_topic(i) for i in range(20)])

    first = feed(state, [drifted(i) for i in range(10)])
    recovery = feed(state, [on_topic(i) for i in range(40)])
    second = feed(state, [drifted(i) for i in range(10)])

    assert len(of_type(first, DriftAlert)) == 1
    assert len(of_type(recovery, DriftRecovered)) == 1
    assert of_type(recovery, DriftRecovered)[0].stability >= 0.65
    assert len(of_type(second, DriftAlert)) == 1


def test_reset_forgets_the_baseline_and_the_score():
    state = AgentDriftState("a1", "worker")
    feed(state, [on_topic(i) for i in range(20)] + [drifted(i) for i in range(30)])

    state.reset()

    assert state.baseline is None
    assert state.stability == 1.0
    assert (state.alerting, state.reset_requested, state.interactions, state.resets) == (False, False, 0, 1)


def test_after_a_reset_the_next_interactions_build_a_new_baseline():
    state = AgentDriftState("a1", "worker")
    feed(state, [on_topic(i) for i in range(20)])
    state.reset()

    signals = feed(state, [drifted(i) for i in range(20)] + [drifted(i) for i in range(20, 40)])

    assert of_type(signals, BaselineEstablished) == [BaselineEstablished("a1", "worker", 20, 20)]
    assert of_type(signals, DriftAlert) == []


def test_role_thresholds_decide_when_an_agent_alerts():
    strict = DriftThresholds(alert_below=0.95, reset_below=0.5, recover_at=0.97, cusum_h=0.0)
    settings = DriftSettings(thresholds=RoleThresholds(DriftThresholds(cusum_h=0.0), {"architect": strict}))
    architect = AgentDriftState("a1", "architect", settings)
    worker = AgentDriftState("a1", "worker", settings)
    samples = [on_topic(i) for i in range(20)] + [drifted(i) for i in range(2)]

    assert of_type(feed(architect, samples), DriftAlert)
    assert not of_type(feed(worker, samples), DriftAlert)


def test_role_thresholds_decide_how_soon_the_cusum_alarms():
    lax = DriftThresholds(cusum_h=40.0, cusum_outlier_window=0)
    settings = DriftSettings(thresholds=RoleThresholds(by_role={"architect": lax}))
    architect = AgentDriftState("a1", "architect", settings)
    worker = AgentDriftState("a1", "worker", settings)
    samples = [on_topic(i) for i in range(20)] + [drifted(i) for i in range(2)]

    assert not of_type(feed(architect, samples), DriftAlert)
    assert of_type(feed(worker, samples), DriftAlert)


def test_state_restored_from_json_continues_exactly_like_the_original():
    original = AgentDriftState("a1", "worker")
    feed(original, [on_topic(i) for i in range(15)])
    restored = AgentDriftState.from_dict(json.loads(json.dumps(original.to_dict())))
    rest = [on_topic(i) for i in range(15, 25)] + [drifted(i) for i in range(20)]

    assert feed(restored, rest) == feed(original, rest)
    assert restored.to_dict() == original.to_dict()


def test_a_sample_of_another_agent_is_refused():
    state = AgentDriftState("a2", "worker")

    with pytest.raises(ValueError, match="a1"):
        state.observe(on_topic(0), EMBEDDING.embed_one("x"))
