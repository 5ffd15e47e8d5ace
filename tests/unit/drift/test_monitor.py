"""The drift monitor's per-agent decisions: samples scored, alerts and resets, EMC requests, ABA anchors."""

import json

import pytest

from services.agent_runtime.scripted_drift import DriftProgress, FormatDrift, ScriptedBehaviour, SemanticDrift
from services.drift_monitor.agent_state import DriftSettings
from services.drift_monitor.embedding import HashedNgramEmbedding
from services.drift_monitor.monitor import AgentRecord, MonitorConfig, decide
from services.drift_monitor.settings import DriftMonitorSettings
from services.drift_monitor.thresholds import DriftThresholds, RoleThresholds
from shared.events.catalogue.agents import AgentRegistered
from shared.events.catalogue.drift import (
    AgentReset,
    AgentResetRequested,
    BaselineEstablished,
    BehaviourSampled,
    ConsolidationApplied,
    ConsolidationRequested,
    DriftAlert,
    StabilityScored,
)

EMBEDDING = HashedNgramEmbedding()


class Feeder:
    """Drives `decide` like the service does: the stored record is the JSON of the last decision."""

    def __init__(self, config: MonitorConfig | None = None) -> None:
        self.config = config or MonitorConfig()
        self.stored: dict | None = None
        self.tasks = 0

    def send(self, payload: object) -> list:
        decision = decide(self.stored, payload, self.config, EMBEDDING)
        if decision.record is not None:
            # Round trip through JSON, as the faust table does.
            self.stored = json.loads(json.dumps(decision.record.to_dict()))
        return [event for _, event in decision.emit]

    def sample(self, behaviour: ScriptedBehaviour, agent_id: str = "a1") -> list:
        out = behaviour.next_output()
        self.tasks += 1
        return self.send(
            BehaviourSampled(
                agent_id=agent_id,
                task_id=f"t{self.tasks}",
                goal_id="g",
                output_text=out.text,
                tools_used=sorted(out.tools_used),
                memory_used=out.memory_used,
            )
        )


def of(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def test_baseline_then_scores_then_alert_and_reset_request_within_fifty_interactions_of_onset() -> None:
    feeder = Feeder()
    behaviour = SemanticDrift(seed=3, progress=DriftProgress(onset=30))
    events = [e for _ in range(80) for e in feeder.sample(behaviour)]

    [baseline] = of(events, BaselineEstablished)
    assert baseline.interaction == 20 and baseline.size == 20
    scores = of(events, StabilityScored)
    assert [s.interaction for s in scores] == list(range(21, 81))
    [alert] = of(events, DriftAlert)
    # The CUSUM names the shifted component before the stability EMA crosses its line.
    assert 30 < alert.interaction <= 80 and alert.reason == "cusum" and alert.component == "semantic"
    assert alert.statistic > alert.limit and alert.threshold == 0.6
    [reset] = of(events, AgentResetRequested)
    # Requested when stability falls below 0.5 or when the shift persists 20 interactions after the alarm.
    assert reset.interaction >= alert.interaction
    assert reset.stability < 0.5 if reset.reason == "stability" else reset.interaction == alert.interaction + 19


def test_a_redelivered_sample_changes_nothing() -> None:
    feeder = Feeder()
    sample = BehaviourSampled(agent_id="a1", task_id="t1", goal_id="g", output_text="hello")
    feeder.send(sample)
    before = feeder.stored
    decision = decide(before, sample, feeder.config, EMBEDDING)
    assert decision.record is None and not decision.emit


def test_the_dedupe_window_keeps_short_entries_and_knows_those_stored_before() -> None:
    feeder = Feeder()
    task = "0b6f3c52-8d7e-4a51-9a5e-2f1d1f0c9e11/step-1"
    feeder.send(BehaviourSampled(agent_id="a1", task_id=task, goal_id="g", output_text="hello"))
    assert feeder.stored is not None and [len(entry) for entry in feeder.stored["recent"]] == [11]
    older = BehaviourSampled(agent_id="a1", task_id="t0", goal_id="g", output_text="hi")
    feeder.stored["recent"].append("t0:1")  # an entry as a drift monitor stored it before
    assert decide(feeder.stored, older, feeder.config, EMBEDDING).record is None
    assert decide(feeder.stored, older.model_copy(update={"attempt": 2}), feeder.config, EMBEDDING).record


def test_anchors_grow_with_drift_and_come_from_the_baseline() -> None:
    feeder = Feeder()
    behaviour = FormatDrift(seed=1, progress=DriftProgress(onset=20, ramp=5))
    events = [e for _ in range(60) for e in feeder.sample(behaviour)]
    scores = of(events, StabilityScored)
    assert scores[0].anchors == []
    drifted = [s for s in scores if s.stability < 0.5]
    assert drifted
    last = drifted[-1]
    assert len(last.anchors) == int(5 * (1 - last.stability))
    baseline_texts = {s["output"] for s in feeder.stored["drift"]["baseline"]["samples"]}
    assert set(last.anchors) <= baseline_texts
    assert all(text.startswith("{") for text in last.anchors)


def test_reset_starts_a_new_baseline_and_memory() -> None:
    feeder = Feeder()
    behaviour = SemanticDrift(seed=2)
    for _ in range(25):
        feeder.sample(behaviour)
    assert feeder.send(AgentReset(agent_id="a1", reason="drift")) == []
    record = AgentRecord.from_dict(feeder.stored, feeder.config)
    assert record.drift.baseline is None and record.drift.interactions == 0 and record.drift.resets == 1
    assert record.memory is not None and record.memory.interactions == 0


def test_every_fiftieth_interaction_asks_for_a_consolidation_and_the_applied_summary_is_mirrored() -> None:
    feeder = Feeder()
    behaviour = SemanticDrift(seed=4)
    events = [e for _ in range(100) for e in feeder.sample(behaviour)]
    requests = of(events, ConsolidationRequested)
    assert [r.through for r in requests] == [50, 100]
    assert len(requests[0].entries) == 50 and requests[0].previous_summary is None

    feeder.send(ConsolidationApplied(agent_id="a1", through=100, summary="all about parsers", kept=20))
    memory = AgentRecord.from_dict(feeder.stored, feeder.config).memory
    assert memory is not None and memory.summary == "all about parsers"
    assert [e.seq for e in memory.entries] == list(range(81, 101))


def test_registration_sets_the_role_whose_thresholds_apply() -> None:
    strict = DriftThresholds(alert_below=0.95, reset_below=0.1, recover_at=0.99)
    config = MonitorConfig(drift=DriftSettings(thresholds=RoleThresholds(by_role={"manager": strict})))
    feeder = Feeder(config)
    feeder.send(AgentRegistered(agent_id="a1", role="manager", capabilities=["code"]))
    behaviour = SemanticDrift(seed=5, progress=DriftProgress(onset=20, ramp=10))
    events = [e for _ in range(40) for e in feeder.sample(behaviour)]
    [alert] = of(events, DriftAlert)
    assert alert.role == "manager" and alert.threshold == 0.95


def test_events_about_unknown_agents_other_than_samples_and_registrations_are_ignored() -> None:
    decision = decide(None, AgentReset(agent_id="ghost"), MonitorConfig(), EMBEDDING)
    assert decision.record is None and not decision.emit


def test_settings_build_per_role_thresholds_on_top_of_the_defaults() -> None:
    options = DriftMonitorSettings(alert_below=0.62, role_thresholds='{"manager": {"alert_below": 0.55}}')
    thresholds = options.thresholds()
    assert thresholds.for_role("worker").alert_below == 0.62
    manager = thresholds.for_role("manager")
    assert manager.alert_below == 0.55 and manager.reset_below == 0.5


@pytest.mark.parametrize(
    "value",
    ['["manager"]', '{"manager": {"alert_below": 0.2, "reset_below": 0.4}}', '{"manager": {"nonsense": 1}}'],
)
def test_settings_refuse_malformed_role_thresholds(value: str) -> None:
    with pytest.raises(ValueError, match=r"role_thresholds|thresholds of role|thresholds must satisfy"):
        DriftMonitorSettings(role_thresholds=value)


def test_settings_carry_the_shift_detector_per_role() -> None:
    options = DriftMonitorSettings(cusum_h=20, role_thresholds='{"manager": {"cusum_h": 0}}')
    thresholds = options.thresholds()
    assert thresholds.for_role("worker").cusum.h == 20 and thresholds.for_role("worker").cusum.enabled
    assert not thresholds.for_role("manager").cusum.enabled
    with pytest.raises(ValueError, match="one output"):
        DriftMonitorSettings(cusum_h=2)


def test_settings_refuse_inconsistent_default_thresholds() -> None:
    with pytest.raises(ValueError, match="thresholds must satisfy"):
        DriftMonitorSettings(alert_below=0.4, reset_below=0.5)
