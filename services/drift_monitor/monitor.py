"""The drift monitor's decisions for one agent: from a stored record and an event to a new record and events.

Pure apart from the embedding provider: the service keeps the record (plain JSON) in a changelog-backed table
keyed by agent id and publishes what comes back. Handled events:

- ``BehaviourSampled``: scored against the agent's baseline (``AgentDriftState``), remembered for EMC; yields
  ``BaselineEstablished``, ``StabilityScored`` (with ABA anchors), ``DriftAlert``, ``AgentResetRequested``,
  ``DriftRecovered`` and, every ``consolidation_interval`` interactions, ``ConsolidationRequested``. A sample
  already seen (same task and attempt, e.g. redelivered) changes nothing.
- ``AgentReset``: the agent's session restarted, so its baseline and memory start over.
- ``ConsolidationApplied``: the agent's memory now starts with the summary.
- ``AgentRegistered``: the agent's role, which selects its thresholds.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.drift_monitor import signals
from services.drift_monitor.agent_state import AgentDriftState, DriftSettings
from services.drift_monitor.anchoring import DEFAULT_MAX_ANCHORS, choose_anchors
from services.drift_monitor.embedding import EmbeddingProvider
from services.drift_monitor.memory import DEFAULT_CONSOLIDATION_INTERVAL, DEFAULT_KEEP_LAST, EpisodicMemory
from services.drift_monitor.sample import BehaviourSample
from shared.events.catalogue.agents import AgentRegistered
from shared.events.catalogue.drift import (
    AgentReset,
    AgentResetRequested,
    BaselineEstablished,
    BehaviourSampled,
    ConsolidationApplied,
    ConsolidationRequested,
    DriftAlert,
    DriftRecovered,
    MemoryEntryModel,
    StabilityScored,
)
from shared.events.envelope import Payload

DEFAULT_ROLE = "worker"
#: How many recent (task, attempt) pairs an agent's record remembers to ignore redelivered samples.
DEDUPE_WINDOW = 256


def seen_entry(task_id: str, attempt: int) -> str:
    """A sample's entry in the dedupe window: 64 bits of blake2b over its task id and attempt, 11 characters of
    base64 where the pair took ~50 (the window is rewritten with every sample: ~3.6 KB, not ~13). Two pairs
    share an entry with probability 2^-64, so a new sample is taken for a redelivered one about never."""
    digest = hashlib.blake2b(f"{task_id}:{attempt}".encode(), digest_size=8).digest()
    return base64.b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class MonitorConfig:
    """How the monitor scores, consolidates and anchors (configuration, never stored in a record)."""

    drift: DriftSettings = field(default_factory=DriftSettings)
    consolidation_interval: int = DEFAULT_CONSOLIDATION_INTERVAL
    keep_last: int = DEFAULT_KEEP_LAST
    max_anchors: int = DEFAULT_MAX_ANCHORS


@dataclass
class AgentRecord:
    """Everything the monitor keeps about one agent."""

    agent_id: str
    role: str
    drift: AgentDriftState
    memory: EpisodicMemory | None
    recent: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, agent_id: str, role: str, config: MonitorConfig) -> AgentRecord:
        return cls(agent_id, role, AgentDriftState(agent_id, role, config.drift), _memory(agent_id, config))

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "role": self.role,
            "drift": self.drift.to_dict(),
            "memory": self.memory.to_dict() if self.memory is not None else None,
            "recent": list(self.recent),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], config: MonitorConfig) -> AgentRecord:
        memory = data.get("memory")
        return cls(
            agent_id=data["agent_id"],
            role=data["role"],
            drift=AgentDriftState.from_dict(data["drift"], config.drift),
            memory=EpisodicMemory.from_dict(memory) if memory is not None else None,
            recent=list(data.get("recent", [])),
        )


def _memory(agent_id: str, config: MonitorConfig) -> EpisodicMemory | None:
    if config.consolidation_interval < 1:
        return None
    return EpisodicMemory(agent_id, config.consolidation_interval, config.keep_last)


@dataclass(frozen=True)
class Decision:
    """The agent's new record (None: unchanged) and the events to publish, each with a kind for its id."""

    record: AgentRecord | None
    emit: Sequence[tuple[str, Payload]] = ()


def decide(
    stored: dict[str, Any] | None, payload: object, config: MonitorConfig, embedder: EmbeddingProvider
) -> Decision:
    """What one event means for the agent it is about."""
    if isinstance(payload, BehaviourSampled):
        record = _load(stored, payload.agent_id, config)
        return _sampled(record, payload, config, embedder)
    if isinstance(payload, AgentRegistered):
        record = _load(stored, payload.agent_id, config)
        if stored is not None and record.role == payload.role:
            return Decision(None)
        record.role = payload.role
        record.drift.role = payload.role
        return Decision(record)
    if stored is None:
        return Decision(None)
    if isinstance(payload, AgentReset):
        record = AgentRecord.from_dict(stored, config)
        record.drift.reset()
        record.memory = _memory(record.agent_id, config)
        return Decision(record)
    if isinstance(payload, ConsolidationApplied):
        record = AgentRecord.from_dict(stored, config)
        if record.memory is None:
            return Decision(None)
        record.memory.apply_summary(payload.through, payload.summary)
        return Decision(record)
    return Decision(None)


def _load(stored: dict[str, Any] | None, agent_id: str, config: MonitorConfig) -> AgentRecord:
    if stored is None:
        return AgentRecord.new(agent_id, DEFAULT_ROLE, config)
    return AgentRecord.from_dict(stored, config)


def _sampled(
    record: AgentRecord, sampled: BehaviourSampled, config: MonitorConfig, embedder: EmbeddingProvider
) -> Decision:
    seen = seen_entry(sampled.task_id, sampled.attempt)
    if seen in record.recent or f"{sampled.task_id}:{sampled.attempt}" in record.recent:  # (or as stored before)
        return Decision(None)
    record.recent = [*record.recent, seen][-DEDUPE_WINDOW:]
    sample = BehaviourSample(
        agent_id=record.agent_id,
        role=record.role,
        output=sampled.output_text,
        tools_used=frozenset(sampled.tools_used),
        memory_used=sampled.memory_used,
        latency_ms=sampled.latency_ms,
        tokens=sampled.tokens,
    )
    [embedding] = embedder.embed([sample.output])
    emit: list[tuple[str, Payload]] = [
        _event(signal, record, config) for signal in record.drift.observe(sample, embedding)
    ]
    if record.memory is not None:
        request = record.memory.record(sampled.output_text)
        if request is not None:
            entries = [MemoryEntryModel(seq=e.seq, text=e.text) for e in request.entries]
            emit.append(
                (
                    "consolidation",
                    ConsolidationRequested(
                        agent_id=record.agent_id,
                        through=request.through,
                        previous_summary=request.previous_summary,
                        entries=entries,
                        keep_last=config.keep_last,
                    ),
                )
            )
    return Decision(record, emit)


def anchors_for(record: AgentRecord, config: MonitorConfig) -> list[str]:
    """ABA: `int(max_anchors * drift)` baseline outputs, drift being the smoothed drift 1 - stability."""
    baseline = record.drift.baseline
    if baseline is None or config.max_anchors < 1:
        return []
    drift = 1.0 - record.drift.stability
    return [anchor.sample.output for anchor in choose_anchors(baseline, drift, config.max_anchors)]


def _event(signal: signals.DriftSignal, record: AgentRecord, config: MonitorConfig) -> tuple[str, Payload]:
    common = {"agent_id": signal.agent_id, "role": signal.role, "interaction": signal.interaction}
    if isinstance(signal, signals.StabilityScored):
        b = signal.breakdown
        scored = StabilityScored(
            **common,
            stability=signal.stability,
            drift=b.drift,
            semantic=b.semantic,
            format=b.format,
            tools=b.tools,
            memory=b.memory,
            anchors=anchors_for(record, config),
        )
        return "scored", scored
    if isinstance(signal, signals.BaselineEstablished):
        return "baseline", BaselineEstablished(**common, size=signal.size)
    if isinstance(signal, signals.DriftAlert):
        alert = DriftAlert(
            **common,
            stability=signal.stability,
            drift=signal.drift,
            threshold=signal.threshold,
            reason=signal.reason,
            component=signal.component,
            statistic=signal.statistic,
            limit=signal.limit,
        )
        return "alert", alert
    if isinstance(signal, signals.ResetRequested):
        request = AgentResetRequested(
            **common,
            stability=signal.stability,
            threshold=signal.threshold,
            reason=signal.reason,
            component=signal.component,
        )
        return "reset-requested", request
    if isinstance(signal, signals.DriftRecovered):
        return "recovered", DriftRecovered(**common, stability=signal.stability)
    raise TypeError(f"unknown drift signal {signal!r}")
