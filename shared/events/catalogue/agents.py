"""Agents: registration, liveness and circuit-breaker state."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.bus.topics import AGENTS_COMMANDS, AGENTS_EVENTS
from shared.events.envelope import Payload
from shared.events.spec import EventSpec

Role = Literal["worker", "manager", "high-level"]
BreakerState = Literal["closed", "open", "half_open"]


class RegisterAgent(Payload):
    agent_id: str = Field(min_length=1, max_length=200)
    role: Role = "worker"
    capabilities: list[str] = Field(min_length=1)
    capacity: int = Field(default=1, ge=1, le=1000)
    cost: float = Field(default=1.0, ge=0)
    model: str = ""


class DeregisterAgent(Payload):
    agent_id: str
    reason: str = ""


class AgentRegistered(Payload):
    agent_id: str
    role: Role = "worker"
    capabilities: list[str]
    capacity: int = 1
    cost: float = 1.0
    model: str = ""


class AgentDeregistered(Payload):
    agent_id: str
    reason: str = ""


class AgentHeartbeat(Payload):
    """v2: ``lease_waits``, the assignments that wait for file leases and so hold no execution slot (the
    assigner counts them out of the agent's load). v1 had none (upcast with 0)."""

    agent_id: str
    in_flight: int = Field(default=0, ge=0)
    tokens_used: int = Field(default=0, ge=0)
    lease_waits: int = Field(default=0, ge=0)


class AgentStopped(Payload):
    """The runtime hosting the agent stopped (after draining its tasks): the assigner gives it no more work until
    it is heard from again (a heartbeat sent after this, or a new registration), instead of until its heartbeat
    times out."""

    agent_id: str
    reason: str = ""


class BreakerStateChanged(Payload):
    agent_id: str
    state: BreakerState
    previous: BreakerState
    consecutive_failures: int = 0


SPECS: tuple[EventSpec, ...] = (
    EventSpec("RegisterAgent", 1, RegisterAgent, AGENTS_COMMANDS, "command", "assigner", "Add an agent."),
    EventSpec("DeregisterAgent", 1, DeregisterAgent, AGENTS_COMMANDS, "command", "assigner", "Remove an agent."),
    EventSpec("AgentRegistered", 1, AgentRegistered, AGENTS_EVENTS, "event", "assigner", "An agent joined."),
    EventSpec("AgentDeregistered", 1, AgentDeregistered, AGENTS_EVENTS, "event", "assigner", "An agent left."),
    EventSpec("AgentHeartbeat", 2, AgentHeartbeat, AGENTS_EVENTS, "event", "agent-runtime", "An agent is alive."),
    EventSpec("AgentStopped", 1, AgentStopped, AGENTS_EVENTS, "event", "agent-runtime", "An agent's runtime stopped."),
    EventSpec(
        "BreakerStateChanged",
        1,
        BreakerStateChanged,
        AGENTS_EVENTS,
        "event",
        "assigner",
        "An agent's circuit breaker moved between closed, open and half-open.",
    ),
)
