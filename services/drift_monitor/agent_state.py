"""Per-agent drift state: baseline collection, stability scoring, alerts and resets, with hysteresis.

Lifecycle of one agent session:
1. The first `baseline_size` interactions build the baseline; stability stays at 1.0 and the last of them
   yields `BaselineEstablished`.
2. Every later interaction is scored (`StabilityScored`) and moves the stability EMA.
3. Stability below `alert_below`, or an alarm of the shift detector (a CUSUM and an outlier count per drift
   component, plus the vocabulary novelty of the output, learned from the baseline: `shift_detector`),
   raises one `DriftAlert` naming its reason; stability below
   `reset_below`, or a component still shifted `shift_reset_after` interactions after its alarm, raises one
   `ResetRequested` (with a `DriftAlert` first if none was raised). Neither repeats
   while the episode lasts; the episode ends when stability is back at `recover_at` and no component is
   still shifted (`DriftRecovered`), or when the agent is reset.
4. `reset()` (after the agent's session restarts) forgets the baseline, so the next interactions build a
   new one from the restarted agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.drift_monitor.baseline import DEFAULT_BASELINE_SIZE, DEFAULT_HABIT_SHARE, Baseline
from services.drift_monitor.drift_score import DriftBreakdown, DriftWeights, leave_one_out_scores, score_drift
from services.drift_monitor.sample import BehaviourSample
from services.drift_monitor.shift_detector import (
    BASELINE_GUARD,
    COMPONENTS,
    ComponentStats,
    ShiftAlarm,
    ShiftDetector,
)
from services.drift_monitor.signals import (
    BaselineEstablished,
    DriftAlert,
    DriftRecovered,
    DriftSignal,
    ResetRequested,
    StabilityScored,
)
from services.drift_monitor.stability import DEFAULT_DECAY, INITIAL_STABILITY, next_stability
from services.drift_monitor.thresholds import DriftThresholds, RoleThresholds
from services.drift_monitor.vocabulary import leave_one_out_novelty, novelty, vocabulary


@dataclass(frozen=True)
class DriftSettings:
    """Knobs of behavioural drift detection (configuration, not state: never serialised with an agent)."""

    baseline_size: int = DEFAULT_BASELINE_SIZE
    decay: float = DEFAULT_DECAY
    habit_share: float = DEFAULT_HABIT_SHARE
    weights: DriftWeights = field(default_factory=DriftWeights)
    thresholds: RoleThresholds = field(default_factory=RoleThresholds)

    def __post_init__(self) -> None:
        if self.baseline_size < 1:
            raise ValueError("baseline_size must be at least 1")
        if not 0.0 < self.habit_share <= 1.0:
            raise ValueError("habit_share must be within (0, 1]")


class AgentDriftState:
    """The drift monitor's view of one agent; serialisable with `to_dict` / `from_dict`."""

    def __init__(self, agent_id: str, role: str, settings: DriftSettings | None = None) -> None:
        self.agent_id = agent_id
        self.role = role
        self.settings = settings or DriftSettings()
        self.interactions = 0
        self.stability = INITIAL_STABILITY
        self.last_drift = 0.0
        self.alerting = False
        self.reset_requested = False
        self.resets = 0
        self.baseline: Baseline | None = None
        self.detector: ShiftDetector | None = None
        self.shifted_for = 0
        self._collected: list[tuple[BehaviourSample, tuple[float, ...]]] = []
        self._vocabulary: frozenset[str] | None = None  # of the baseline, derived (not serialised)

    @property
    def thresholds(self) -> DriftThresholds:
        """The thresholds for this agent's role."""
        return self.settings.thresholds.for_role(self.role)

    def observe(self, sample: BehaviourSample, embedding: list[float]) -> list[DriftSignal]:
        """Take one interaction (and the embedding of its output) into account; return what follows."""
        if sample.agent_id != self.agent_id:
            raise ValueError(f"sample of agent {sample.agent_id!r} given to the state of {self.agent_id!r}")
        self.interactions += 1
        if self.baseline is None:
            return self._collect(sample, embedding)
        breakdown = score_drift(sample, embedding, self.baseline, self.settings.weights)
        self.last_drift = breakdown.drift
        self.stability = next_stability(self.stability, breakdown.drift, self.settings.decay)
        detector = self._detector()
        scores = {**_components(breakdown), "vocabulary": novelty(sample.output, self._baseline_vocabulary())}
        alarms = detector.update(scores, self.thresholds.cusum)
        self.shifted_for = self.shifted_for + 1 if detector.any_shifted else 0
        signals: list[DriftSignal] = [
            StabilityScored(self.agent_id, self.role, self.interactions, self.stability, breakdown)
        ]
        signals.extend(self._threshold_signals(alarms))
        return signals

    def reset(self) -> None:
        """Forget the baseline and the score: the agent's session restarted, so it is measured afresh."""
        self.interactions = 0
        self.stability = INITIAL_STABILITY
        self.last_drift = 0.0
        self.alerting = False
        self.reset_requested = False
        self.baseline = None
        self.detector = None
        self.shifted_for = 0
        self._collected = []
        self._vocabulary = None
        self.resets += 1

    def _collect(self, sample: BehaviourSample, embedding: list[float]) -> list[DriftSignal]:
        self._collected.append((sample, tuple(embedding)))
        if len(self._collected) < self.settings.baseline_size:
            return []
        self.baseline = Baseline(
            samples=tuple(s for s, _ in self._collected),
            embeddings=tuple(e for _, e in self._collected),
            habit_share=self.settings.habit_share,
        )
        self._collected = []
        self.detector = _new_detector(self.baseline, self.settings.weights)
        return [BaselineEstablished(self.agent_id, self.role, self.interactions, self.baseline.size)]

    def _detector(self) -> ShiftDetector:
        if self.detector is None:  # a record stored before the detector existed
            assert self.baseline is not None
            self.detector = _new_detector(self.baseline, self.settings.weights)
        return self.detector

    def _baseline_vocabulary(self) -> frozenset[str]:
        if self._vocabulary is None:
            assert self.baseline is not None
            self._vocabulary = vocabulary(s.output for s in self.baseline.samples)
        return self._vocabulary

    def _threshold_signals(self, alarms: list[ShiftAlarm]) -> list[DriftSignal]:
        limits = self.thresholds
        signals: list[DriftSignal] = []
        below = self.stability < limits.alert_below
        if (below or alarms) and not self.alerting:
            self.alerting = True
            alert = [self.agent_id, self.role, self.interactions, self.stability, self.last_drift, limits.alert_below]
            if below:
                signals.append(DriftAlert(*alert))
            else:
                alarm = alarms[0]
                signals.append(DriftAlert(*alert, "cusum", alarm.component, alarm.statistic, alarm.limit))
        persistent = 0 < limits.shift_reset_after <= self.shifted_for
        if (self.stability < limits.reset_below or persistent) and not self.reset_requested:
            self.reset_requested = True
            request = [self.agent_id, self.role, self.interactions, self.stability, limits.reset_below]
            if self.stability < limits.reset_below:
                signals.append(ResetRequested(*request))
            else:
                assert self.detector is not None
                signals.append(ResetRequested(*request, "shift", self.detector.shifted_components[0]))
        shifted = self.detector is not None and self.detector.any_shifted
        if self.alerting and self.stability >= limits.recover_at and not shifted:
            self.alerting = False
            self.reset_requested = False
            signals.append(DriftRecovered(self.agent_id, self.role, self.interactions, self.stability))
        return signals

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form of the state (settings are configuration and are not included)."""
        return {
            "agent_id": self.agent_id,
            "role": self.role,
            "interactions": self.interactions,
            "stability": self.stability,
            "last_drift": self.last_drift,
            "alerting": self.alerting,
            "reset_requested": self.reset_requested,
            "resets": self.resets,
            "baseline": self.baseline.to_dict() if self.baseline is not None else None,
            "detector": self.detector.to_dict() if self.detector is not None else None,
            "shifted_for": self.shifted_for,
            "collected": [{"sample": s.to_dict(), "embedding": list(e)} for s, e in self._collected],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], settings: DriftSettings | None = None) -> AgentDriftState:
        """Inverse of `to_dict`, under the given (current) settings."""
        state = cls(data["agent_id"], data["role"], settings)
        state.interactions = int(data["interactions"])
        state.stability = float(data["stability"])
        state.last_drift = float(data.get("last_drift", 0.0))
        state.alerting = bool(data["alerting"])
        state.reset_requested = bool(data["reset_requested"])
        state.resets = int(data.get("resets", 0))
        baseline = data.get("baseline")
        state.baseline = Baseline.from_dict(baseline) if baseline is not None else None
        detector = data.get("detector")
        state.detector = ShiftDetector.from_dict(detector) if detector is not None else None
        state.shifted_for = int(data.get("shifted_for", 0))
        state._collected = [
            (BehaviourSample.from_dict(item["sample"]), tuple(float(x) for x in item["embedding"]))
            for item in data.get("collected", [])
        ]
        return state


def _components(breakdown: DriftBreakdown) -> dict[str, float]:
    return {component: getattr(breakdown, component) for component in COMPONENTS}


def _new_detector(baseline: Baseline, weights: DriftWeights) -> ShiftDetector:
    """A detector whose null hypothesis is the baseline's own (leave-one-out) component scores."""
    scores = leave_one_out_scores(baseline, weights)
    if not scores:  # a baseline of one: nothing to learn a spread from, so min_sigma rules
        return ShiftDetector(dict.fromkeys((*COMPONENTS, "vocabulary"), ComponentStats(0.0, 0.0)))
    stats = {c: ComponentStats.of((getattr(b, c) for b in scores), BASELINE_GUARD) for c in COMPONENTS}
    novelties = leave_one_out_novelty([s.output for s in baseline.samples])
    return ShiftDetector({**stats, "vocabulary": ComponentStats.of(novelties, BASELINE_GUARD)})
