"""One agent as its runtime hosts it: configuration, backend, slots, budget and latency estimate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from services.agent_runtime.agent_slots import AgentSlots
from services.agent_runtime.backends.contract import Backend, TaskRequest
from services.agent_runtime.bidding import Bidder
from services.agent_runtime.fleet_config import AgentConfig
from services.agent_runtime.latency import LatencyEstimate
from services.agent_runtime.ledger import AssignmentKey
from services.agent_runtime.token_budget import TokenBudget
from shared.events.catalogue.agents import AgentHeartbeat, RegisterAgent
from shared.events.catalogue.work import ExecuteTask


@dataclass
class HostedAgent:
    """Mutable on purpose: owned by the runtime's loop thread, rebuilt from configuration and state on start."""

    config: AgentConfig
    backend: Backend
    slots: AgentSlots[AssignmentKey] = field(init=False)
    budget: TokenBudget = field(init=False)
    latency: LatencyEstimate = field(default_factory=LatencyEstimate)

    def __post_init__(self) -> None:
        self.slots = AgentSlots(self.config.capacity)
        self.budget = TokenBudget(self.config.token_budget)

    @property
    def id(self) -> str:
        return self.config.id

    def registration(self) -> RegisterAgent:
        """The command that introduces this agent to the assigner."""
        c = self.config
        return RegisterAgent(
            agent_id=c.id, role=c.role, capabilities=c.capabilities, capacity=c.capacity, cost=c.cost, model=c.model
        )

    def heartbeat(self, lease_waits: int = 0) -> AgentHeartbeat:
        """Liveness with the current load and usage, and how many assignments wait for file leases."""
        return AgentHeartbeat(
            agent_id=self.id, in_flight=self.slots.in_flight, tokens_used=self.budget.used, lease_waits=lease_waits
        )

    def eta_s(self) -> float:
        """Configured ETA, else the backend's known latency, else what its tasks have taken so far."""
        if self.config.eta_s is not None:
            return self.config.eta_s
        known = self.backend.expected_latency_s()
        return known if known is not None else self.latency.seconds

    def bidder(self) -> Bidder:
        """This agent as an auction sees it now."""
        c = self.config
        return Bidder(c.id, frozenset(c.capabilities), self.slots.free, c.cost, round(self.eta_s(), 3), c.bid)

    def timeout_s(self, command: ExecuteTask) -> float:
        """The assignment's timeout, or this agent's default when it names none."""
        return command.timeout_s if command.timeout_s is not None else self.config.default_timeout_s()

    def request_for(self, command: ExecuteTask, findings: Sequence[dict[str, Any]]) -> TaskRequest:
        """What the backend is given for ``command``, with the goal's recent findings and the budget left."""
        return TaskRequest(
            agent_id=self.id,
            role=self.config.role,
            model=self.config.model,
            task_id=command.task_id,
            goal_id=command.goal_id,
            attempt=command.attempt,
            operator=command.operator,
            capability=command.capability,
            timeout_s=self.timeout_s(command),
            inputs=dict(command.inputs),
            anchors=tuple(command.anchors),
            findings=tuple(findings),
            max_tokens=self.budget.remaining,
        )
