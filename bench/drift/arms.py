"""One 1000-interaction session of one scripted agent under one mitigation arm, measured.

The agent is a scripted drifter (``services.agent_runtime.scripted_drift``); the monitor is the drift
monitor's own pure logic (``AgentDriftState``, ``EpisodicMemory``, ``choose_anchors``) with its defaults
unless settings are given: baseline of 20, EMA 0.9/0.1, alert below 0.6 or on a CUSUM alarm, reset below 0.5
or 20 interactions into a CUSUM shift, EMC every 50 interactions, up to 5 anchors.

Arms: ``none`` observes only; ``emc`` consolidates memory every 50 interactions (a summary task; the script's
drift progress halves); ``dar`` resets the agent when the monitor asks (its session restarts, the routed-away
task is redone by a peer); ``aba`` gives each prompt ``int(5 * drift)`` baseline examples (drift = 1 -
stability); ``all`` does all three. Cost model: a task's tokens are its output tokens plus its prompt's anchor
tokens; a consolidation is one extra task whose tokens are the history it reads plus the summary; a reset
costs one extra task (the one routed to a peer). Latency: 1 ms per prompt or output token plus 800-1200 ms
of scripted model time per task.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.agent_runtime.scripted_drift import DriftProgress, ScriptedBehaviour
from services.drift_monitor.agent_state import AgentDriftState, DriftSettings
from services.drift_monitor.anchoring import choose_anchors
from services.drift_monitor.embedding import HashedNgramEmbedding
from services.drift_monitor.memory import EpisodicMemory
from services.drift_monitor.sample import BehaviourSample
from services.drift_monitor.signals import DriftAlert, ResetRequested, StabilityScored

ARMS = ("none", "emc", "dar", "aba", "all")
MS_PER_TOKEN = 1.0
SUMMARY_TOKENS = 200
EMBEDDING = HashedNgramEmbedding()


def _tokens(text: str) -> int:
    return int(len(text.split()) * 1.3)


@dataclass(frozen=True)
class SessionResult:
    arm: str
    agent: str
    interactions: int
    mean_drift: float
    tasks: int
    tokens: int
    latency_ms: float
    first_alert: int | None
    onset: int
    first_stability_alert: int | None = None
    alert_reason: str = ""
    resets: int = 0
    alerts_before_onset: int = 0

    @property
    def detection_delay(self) -> int | None:
        return None if self.first_alert is None else self.first_alert - self.onset

    @property
    def stability_delay(self) -> int | None:
        """Delay of the first alert raised by the stability EMA (the detector the issue prescribes)."""
        return None if self.first_stability_alert is None else self.first_stability_alert - self.onset


def run_session(
    arm: str,
    agent: str,
    behaviour: ScriptedBehaviour,
    interactions: int = 1000,
    settings: DriftSettings | None = None,
) -> SessionResult:
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}; choose from {', '.join(ARMS)}")
    emc, dar, aba = arm in ("emc", "all"), arm in ("dar", "all"), arm in ("aba", "all")
    state = AgentDriftState(agent, "worker", settings)
    memory = EpisodicMemory(agent)
    onset = behaviour.progress.onset
    total_drift = tokens = tasks = 0.0
    latency = 0.0
    first_alert: int | None = None
    first_stability_alert: int | None = None
    alert_reason = ""
    resets = alerts_before_onset = 0
    anchor_tokens = 0
    for n in range(1, interactions + 1):
        output = behaviour.next_output()
        tasks += 1
        task_tokens = output.tokens + anchor_tokens
        tokens += task_tokens
        latency += output.latency_ms + MS_PER_TOKEN * task_tokens
        total_drift += output.effective_drift
        sample = BehaviourSample(agent, "worker", output.text, output.tools_used, output.memory_used)
        signals = state.observe(sample, EMBEDDING.embed_one(output.text))
        for alert in (s for s in signals if isinstance(s, DriftAlert)):
            if first_alert is None:
                first_alert = n
                alert_reason = raised_by(alert, state)
            if n <= onset and resets == 0:
                alerts_before_onset += 1
        # The EMA's own crossing, whichever detector opened the episode (the EMA does not depend on it).
        if first_stability_alert is None and state.stability < state.thresholds.alert_below:
            first_stability_alert = n
        request = memory.record(output.text)
        if emc and request is not None:
            read = sum(_tokens(e.text) for e in request.entries)
            tasks += 1
            tokens += read + SUMMARY_TOKENS
            latency += MS_PER_TOKEN * (read + SUMMARY_TOKENS)
            memory.apply_summary(request.through, "summary")
            behaviour.consolidate()
        if dar and any(isinstance(s, ResetRequested) for s in signals):
            tasks += 1  # the routed-away task, redone by a peer
            tokens += output.tokens
            behaviour.reset()
            state.reset()
            resets += 1
            memory = EpisodicMemory(agent)
        anchor_tokens = 0
        if aba and state.baseline is not None and any(isinstance(s, StabilityScored) for s in signals):
            anchors = choose_anchors(state.baseline, 1.0 - state.stability)
            behaviour.anchor(len(anchors))
            anchor_tokens = sum(_tokens(a.sample.output) for a in anchors)
    return SessionResult(
        arm,
        agent,
        interactions,
        total_drift / interactions,
        int(tasks),
        int(tokens),
        latency,
        first_alert,
        onset,
        first_stability_alert,
        alert_reason,
        resets,
        alerts_before_onset,
    )


def raised_by(alert: DriftAlert, state: AgentDriftState) -> str:
    """``stability``, or the component, the detector channel and the test of a shift alarm, e.g.
    ``semantic (vocabulary cusum)`` or ``format (outliers)``."""
    if alert.component is None:
        return alert.reason
    test = "cusum" if alert.limit == state.thresholds.cusum_h else "outliers"
    shifted = state.detector.shifted if state.detector is not None else set()
    if alert.component == "semantic":
        channel = "vocabulary" if "vocabulary" in shifted and "semantic" not in shifted else "embedding"
        return f"semantic ({channel} {test})"
    return f"{alert.component} ({test})"


def fresh(kind: type[ScriptedBehaviour], seed: int, onset: int, ramp: int) -> ScriptedBehaviour:
    return kind(seed=seed, progress=DriftProgress(onset=onset, ramp=ramp))
