"""What the assigner knows about one agent when it routes work."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from services.assigner.breaker import CircuitBreaker

Role = Literal["worker", "manager", "high-level"]

DEFAULT_HEARTBEAT_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class AgentView:
    """An agent's identity, skills, load, stability (0..1, from the drift monitor) and breaker.

    ``in_flight`` counts the tasks assigned to it and not finished; ``lease_waits`` (from its latest heartbeat)
    the ones among them that wait for file leases another holds: they hold no execution slot, so they do not
    count as load (the runtime runs other work meanwhile).
    """

    agent_id: str
    role: Role = "worker"
    capabilities: frozenset[str] = frozenset()
    capacity: int = 1
    in_flight: int = 0
    cost: float = 1.0
    stability: float = 1.0
    last_heartbeat: float = 0.0
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    lease_waits: int = 0
    #: When its runtime said it stopped (AgentStopped); it is alive again once heard from after that.
    stopped_at: float | None = None

    @property
    def busy(self) -> int:
        """Tasks holding an execution slot: in flight and not waiting for file leases."""
        return max(0, self.in_flight - self.lease_waits)

    @property
    def free_capacity(self) -> int:
        """How many more tasks the agent can take now."""
        return max(0, self.capacity - self.busy)

    @property
    def load(self) -> float:
        """Share of capacity in use (busy / capacity)."""
        return self.busy / self.capacity if self.capacity > 0 else float("inf")

    def is_alive(self, now: float, heartbeat_timeout_s: float = DEFAULT_HEARTBEAT_TIMEOUT_S) -> bool:
        """A heartbeat arrived within the timeout, and after the agent's runtime last said it stopped."""
        heard_since = self.stopped_at is None or self.last_heartbeat > self.stopped_at
        return heard_since and now - self.last_heartbeat <= heartbeat_timeout_s

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "agent_id": self.agent_id,
            "role": self.role,
            "capabilities": sorted(self.capabilities),
            "capacity": self.capacity,
            "in_flight": self.in_flight,
            "cost": self.cost,
            "stability": self.stability,
            "last_heartbeat": self.last_heartbeat,
            "breaker": self.breaker.to_dict(),
            "lease_waits": self.lease_waits,
            "stopped_at": self.stopped_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentView:
        """Inverse of `to_dict`."""
        return cls(
            agent_id=data["agent_id"],
            role=data.get("role", "worker"),
            capabilities=frozenset(data.get("capabilities", ())),
            capacity=int(data.get("capacity", 1)),
            in_flight=int(data.get("in_flight", 0)),
            cost=float(data.get("cost", 1.0)),
            stability=float(data.get("stability", 1.0)),
            last_heartbeat=float(data.get("last_heartbeat", 0.0)),
            breaker=CircuitBreaker.from_dict(data.get("breaker", {})),
            lease_waits=int(data.get("lease_waits", 0)),
            stopped_at=None if data.get("stopped_at") is None else float(data["stopped_at"]),
        )
