"""Drift: behaviour samples per agent, stability scores, alerts, resets, memory consolidation and coordination.

Every event here is about one agent (or, for coordination alerts, the fleet) and is keyed by agent id on
``architect.drift.events``, so an agent's samples, scores and resets stay in order.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.bus.topics import DRIFT_EVENTS
from shared.events.envelope import Payload
from shared.events.spec import EventSpec

#: The stream id of fleet-wide (coordination) drift events.
FLEET_STREAM = "fleet"


class BehaviourSampled(Payload):
    """One interaction of an agent as the drift monitor measures it (taken from a task outcome)."""

    agent_id: str = Field(min_length=1)
    task_id: str
    goal_id: str
    attempt: int = Field(default=1, ge=1)
    output_text: str = ""
    tools_used: list[str] = Field(default_factory=list)
    memory_used: bool = False
    latency_ms: float = Field(default=0.0, ge=0)
    tokens: int = Field(default=0, ge=0)
    succeeded: bool = True
    error_class: str | None = None


class BaselineEstablished(Payload):
    agent_id: str
    role: str
    interaction: int = Field(ge=1)
    size: int = Field(ge=1)


class StabilityScored(Payload):
    """An interaction was scored; ``anchors`` are the baseline examples the agent's next prompts should carry."""

    agent_id: str
    role: str
    interaction: int = Field(ge=1)
    stability: float = Field(ge=0)
    drift: float = Field(ge=0)
    semantic: float = Field(default=0.0, ge=0)
    format: float = Field(default=0.0, ge=0)
    tools: float = Field(default=0.0, ge=0)
    memory: float = Field(default=0.0, ge=0)
    anchors: list[str] = Field(default_factory=list)


DriftDetector = Literal["stability", "cusum"]
DriftComponent = Literal["semantic", "format", "tools"]


class DriftAlert(Payload):
    """A drift episode began. v2 names the detector (v1 alerts were all ``stability``, upcast on read).

    ``reason``: ``stability`` when the EMA fell below ``threshold`` (the role's alert line); ``cusum`` when
    the shift detector found a sustained rise of ``component``'s drift score (its statistic ``statistic``
    crossed ``limit``, both in baseline standard deviations).
    """

    agent_id: str
    role: str
    interaction: int = Field(ge=1)
    stability: float = Field(ge=0)
    drift: float = Field(ge=0)
    threshold: float = Field(ge=0)
    reason: DriftDetector = "stability"
    component: DriftComponent | None = None
    statistic: float | None = Field(default=None, ge=0)
    limit: float | None = Field(default=None, ge=0)


class DriftRecovered(Payload):
    agent_id: str
    role: str
    interaction: int = Field(ge=1)
    stability: float = Field(ge=0)


class AgentResetRequested(Payload):
    """The runtime hosting the agent restarts its session. v2 names the reason (v1: all ``stability``).

    ``reason``: ``stability`` when stability fell below ``threshold`` (the role's reset line); ``shift`` when
    ``component`` stayed shifted (CUSUM) for the role's ``shift_reset_after`` interactions after its alarm
    while anchoring and consolidation held stability above the line.
    """

    agent_id: str
    role: str
    interaction: int = Field(ge=1)
    stability: float = Field(ge=0)
    threshold: float = Field(ge=0)
    reason: Literal["stability", "shift"] = "stability"
    component: DriftComponent | None = None


class AgentReset(Payload):
    """The agent's session restarted (new context, no anchors); its baseline is built afresh."""

    agent_id: str
    reason: str = ""


class MemoryEntryModel(Payload):
    seq: int = Field(ge=1)
    text: str


class ConsolidationRequested(Payload):
    """EMC: summarise the agent's history up to ``through``; the summary replaces all but the last entries."""

    agent_id: str
    through: int = Field(ge=1)
    previous_summary: str | None = None
    entries: list[MemoryEntryModel] = Field(default_factory=list)
    keep_last: int = Field(default=20, ge=0)


class ConsolidationApplied(Payload):
    """The agent's context is now the summary plus its last ``kept`` interactions."""

    agent_id: str
    through: int = Field(ge=1)
    summary: str
    kept: int = Field(ge=0)


CoordinationKind = Literal["routing_skew", "redundant_work", "handoff_failure", "bottleneck"]


class CoordinationDriftDetected(Payload):
    """The fleet drifts as a whole: skewed routing, redundant work, failed handoffs or a bottleneck."""

    kind: CoordinationKind
    subject: str
    details: dict[str, Any] = Field(default_factory=dict)


def _event(payload: type[Payload], owner: str, description: str, version: int = 1) -> EventSpec:
    return EventSpec(payload.__name__, version, payload, DRIFT_EVENTS, "event", owner, description)


SPECS: tuple[EventSpec, ...] = (
    _event(BehaviourSampled, "drift-monitor", "One agent interaction taken from a task outcome, to be scored."),
    _event(BaselineEstablished, "drift-monitor", "An agent's baseline is complete; scoring starts."),
    _event(StabilityScored, "drift-monitor", "An interaction's drift and the agent's updated stability."),
    _event(
        DriftAlert,
        "drift-monitor",
        "An agent began drifting: stability below its role's alert threshold, or a sustained shift (CUSUM).",
        version=2,
    ),
    _event(DriftRecovered, "drift-monitor", "An alerting agent's stability climbed back."),
    _event(
        AgentResetRequested,
        "drift-monitor",
        "An agent fell below its reset threshold or stayed shifted; restart its session.",
        version=2,
    ),
    _event(AgentReset, "agent-runtime", "An agent's session restarted; its baseline is rebuilt."),
    _event(ConsolidationRequested, "drift-monitor", "EMC: an agent's history is due for a summary."),
    _event(ConsolidationApplied, "agent-runtime", "EMC: an agent's context was replaced by summary + recent."),
    _event(CoordinationDriftDetected, "drift-monitor", "Routing skew, redundant work, handoff failure or bottleneck."),
)
