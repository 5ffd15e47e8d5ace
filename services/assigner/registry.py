"""The agent registry: a pure, serialisable map of agents, rebuilt from registration, heartbeat, load and
result events. Every update returns a new registry; updates about unknown agents change nothing (the
agent may have been deregistered while its last events were in flight)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from services.assigner.agent_view import DEFAULT_HEARTBEAT_TIMEOUT_S, AgentView, Role
from services.assigner.breaker import BreakerPolicy, CircuitBreaker


@dataclass(frozen=True)
class AgentRegistry:
    """Registered agents by id, with liveness judged against `heartbeat_timeout_s`."""

    agents: Mapping[str, AgentView] = field(default_factory=dict)
    heartbeat_timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S
    breaker_policy: BreakerPolicy = field(default_factory=BreakerPolicy)

    # Queries

    def get(self, agent_id: str) -> AgentView | None:
        """The agent, or None if not registered."""
        return self.agents.get(agent_id)

    def views(self) -> tuple[AgentView, ...]:
        """Every registered agent, by id."""
        return tuple(self.agents[agent_id] for agent_id in sorted(self.agents))

    def is_alive(self, agent_id: str, now: float) -> bool:
        """Registered and heard from within the heartbeat timeout."""
        agent = self.agents.get(agent_id)
        return agent is not None and agent.is_alive(now, self.heartbeat_timeout_s)

    def alive(self, now: float) -> tuple[AgentView, ...]:
        """The live agents, by id."""
        return tuple(agent for agent in self.views() if agent.is_alive(now, self.heartbeat_timeout_s))

    def fleet_capabilities(self, now: float | None = None) -> frozenset[str]:
        """Capabilities of all registered agents, or only of the live ones when `now` is given."""
        agents = self.views() if now is None else self.alive(now)
        return frozenset(capability for agent in agents for capability in agent.capabilities)

    # Updates

    def register(
        self,
        agent_id: str,
        capabilities: Iterable[str],
        now: float,
        role: Role = "worker",
        capacity: int = 1,
        cost: float = 1.0,
    ) -> AgentRegistry:
        """Add an agent, or update a re-registering one (after a restart) while keeping its load,
        stability and breaker state: a restart must not wipe out the record of a flapping agent."""
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        capabilities = frozenset(capabilities)
        config = self.breaker_policy.for_agent(role, capabilities)
        known = self.agents.get(agent_id)
        breaker = CircuitBreaker(config) if known is None else replace(known.breaker, config=config)
        agent = AgentView(
            agent_id=agent_id,
            role=role,
            capabilities=capabilities,
            capacity=capacity,
            in_flight=0 if known is None else known.in_flight,
            cost=cost,
            stability=1.0 if known is None else known.stability,
            last_heartbeat=now,
            breaker=breaker,
        )
        return self._with(agent)

    def deregister(self, agent_id: str) -> AgentRegistry:
        """Remove an agent."""
        if agent_id not in self.agents:
            return self
        return replace(self, agents={key: value for key, value in self.agents.items() if key != agent_id})

    def heartbeat(
        self, agent_id: str, now: float, in_flight: int | None = None, lease_waits: int | None = None
    ) -> AgentRegistry:
        """The agent is alive at `now`, and reports how many tasks it holds and how many of them wait for file
        leases (each if given).

        An older heartbeat arriving late never moves liveness backwards.
        """
        agent = self.agents.get(agent_id)
        if agent is None:
            return self
        return self._with(
            replace(
                agent,
                last_heartbeat=max(agent.last_heartbeat, now),
                in_flight=agent.in_flight if in_flight is None else max(0, in_flight),
                lease_waits=agent.lease_waits if lease_waits is None else max(0, lease_waits),
            )
        )

    def stopped(self, agent_id: str, at: float) -> AgentRegistry:
        """The agent's runtime stopped at ``at``: not alive until a heartbeat newer than that (an older one
        arriving late does not revive it). Its load, stability and breaker are kept for when it comes back."""
        agent = self.agents.get(agent_id)
        if agent is None or (agent.stopped_at is not None and agent.stopped_at >= at):
            return self
        return self._with(replace(agent, stopped_at=at))

    def change_load(self, agent_id: str, delta: int) -> AgentRegistry:
        """Tasks taken (+) or finished (-) by the agent; in_flight never goes below zero."""
        agent = self.agents.get(agent_id)
        if agent is None:
            return self
        return self._with(replace(agent, in_flight=max(0, agent.in_flight + delta)))

    def set_stability(self, agent_id: str, stability: float) -> AgentRegistry:
        """The drift monitor's latest stability score for the agent, clamped to 0..1."""
        agent = self.agents.get(agent_id)
        if agent is None:
            return self
        return self._with(replace(agent, stability=min(1.0, max(0.0, stability))))

    def record_assignment(self, agent_id: str, now: float) -> AgentRegistry:
        """A task went to the agent: one more in flight, and a half-open breaker's probe slot taken."""
        agent = self.agents.get(agent_id)
        if agent is None:
            return self
        return self._with(replace(agent, in_flight=agent.in_flight + 1, breaker=agent.breaker.record_dispatch(now)))

    def record_success(self, agent_id: str, now: float) -> AgentRegistry:
        """The agent finished a task: one fewer in flight, and its breaker told."""
        return self._record_result(agent_id, now, succeeded=True)

    def record_failure(self, agent_id: str, now: float) -> AgentRegistry:
        """The agent failed (or timed out on) a task: one fewer in flight, and its breaker told."""
        return self._record_result(agent_id, now, succeeded=False)

    def record_given_back(self, agent_id: str, now: float) -> AgentRegistry:
        """The agent gave a task back for a reason that is not its fault (its files were locked by another):
        one fewer in flight, and its breaker neither credited nor charged (a half-open probe slot is freed)."""
        agent = self.agents.get(agent_id)
        if agent is None:
            return self
        return self._with(
            replace(agent, in_flight=max(0, agent.in_flight - 1), breaker=agent.breaker.record_neutral(now))
        )

    def _record_result(self, agent_id: str, now: float, *, succeeded: bool) -> AgentRegistry:
        agent = self.agents.get(agent_id)
        if agent is None:
            return self
        breaker = agent.breaker.record_success(now) if succeeded else agent.breaker.record_failure(now)
        return self._with(replace(agent, in_flight=max(0, agent.in_flight - 1), breaker=breaker))

    def _with(self, agent: AgentView) -> AgentRegistry:
        return replace(self, agents={**self.agents, agent.agent_id: agent})

    # Serialisation

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "heartbeat_timeout_s": self.heartbeat_timeout_s,
            "breaker_policy": self.breaker_policy.to_dict(),
            "agents": [agent.to_dict() for agent in self.views()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentRegistry:
        """Inverse of `to_dict`."""
        agents = (AgentView.from_dict(item) for item in data.get("agents", ()))
        return cls(
            agents={agent.agent_id: agent for agent in agents},
            heartbeat_timeout_s=float(data.get("heartbeat_timeout_s", DEFAULT_HEARTBEAT_TIMEOUT_S)),
            breaker_policy=BreakerPolicy.from_dict(data.get("breaker_policy", {})),
        )
