"""A circuit breaker per agent: stop sending work to an agent that keeps failing, then probe it.

closed --N consecutive failures--> open --timeout elapsed--> half_open
half_open --success_threshold consecutive successes--> closed
half_open --any failure--> open (with a fresh timeout)

Closed lets everything through, and a success there resets the failure count. Open fails fast. Half-open
lets at most `half_open_max_probes` tasks be in flight at once. Results that arrive while open (work that
was dispatched before it opened) are ignored: they neither extend nor shorten the timeout. The move from
open to half-open happens by the clock, so it is computed from `now` rather than stored by an event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerConfig:
    """Thresholds of one breaker."""

    failure_threshold: int = 3
    """Consecutive failures that open a closed breaker."""
    open_timeout_s: float = 300.0
    """How long an open breaker fails fast before probing."""
    half_open_max_probes: int = 1
    """Probe tasks allowed in flight at once while half-open."""
    success_threshold: int = 2
    """Consecutive probe successes that close a half-open breaker."""

    def __post_init__(self) -> None:
        for name in ("failure_threshold", "half_open_max_probes", "success_threshold"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.open_timeout_s < 0:
            raise ValueError(f"open_timeout_s must not be negative, got {self.open_timeout_s}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "failure_threshold": self.failure_threshold,
            "open_timeout_s": self.open_timeout_s,
            "half_open_max_probes": self.half_open_max_probes,
            "success_threshold": self.success_threshold,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BreakerConfig:
        """Inverse of `to_dict`; missing keys keep their defaults."""
        return cls(**{key: data[key] for key in cls().to_dict() if key in data})


ARCHITECT_BREAKER = BreakerConfig(failure_threshold=2, open_timeout_s=600.0)
"""The report's stricter breaker for architect agents: their mistakes cost the most downstream."""


@dataclass(frozen=True)
class BreakerPolicy:
    """Which breaker configuration an agent gets: by role or capability, else the default."""

    default: BreakerConfig = field(default_factory=BreakerConfig)
    per_role: Mapping[str, BreakerConfig] = field(default_factory=lambda: {"architect": ARCHITECT_BREAKER})

    def for_agent(self, role: str, capabilities: Iterable[str] = ()) -> BreakerConfig:
        """The configuration for an agent: its role if configured, else its first configured capability
        (alphabetically, to be deterministic), else the default.

        Capabilities are consulted because "architect" is usually what an agent does (a capability),
        while registry roles are the hierarchy levels worker / manager / high-level.
        """
        if role in self.per_role:
            return self.per_role[role]
        for capability in sorted(capabilities):
            if capability in self.per_role:
                return self.per_role[capability]
        return self.default

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "default": self.default.to_dict(),
            "per_role": {role: config.to_dict() for role, config in sorted(self.per_role.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BreakerPolicy:
        """Inverse of `to_dict`; a missing `per_role` keeps the architect default."""
        default = BreakerConfig.from_dict(data.get("default", {}))
        if "per_role" not in data:
            return cls(default=default)
        return cls(default, {role: BreakerConfig.from_dict(c) for role, c in data["per_role"].items()})


@dataclass(frozen=True)
class CircuitBreaker:
    """The breaker of one agent. Every method takes `now` (seconds) and returns a new breaker."""

    config: BreakerConfig = field(default_factory=BreakerConfig)
    state: BreakerState = "closed"
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    opened_at: float | None = None
    probes_in_flight: int = 0

    def state_at(self, now: float) -> BreakerState:
        """The state at `now`: an open breaker whose timeout has elapsed reads as half-open."""
        return self.at(now).state

    def allows(self, now: float) -> bool:
        """Whether a task may be sent to the agent at `now`."""
        current = self.at(now)
        if current.state == "closed":
            return True
        if current.state == "half_open":
            return current.probes_in_flight < self.config.half_open_max_probes
        return False

    def reopens_at(self) -> float | None:
        """When an open breaker starts probing; None unless open."""
        if self.state != "open" or self.opened_at is None:
            return None
        return self.opened_at + self.config.open_timeout_s

    def at(self, now: float) -> CircuitBreaker:
        """This breaker with the clock-driven open -> half-open move applied."""
        reopens_at = self.reopens_at()
        if reopens_at is not None and now >= reopens_at:
            return replace(self, state="half_open", consecutive_successes=0, probes_in_flight=0)
        return self

    def record_dispatch(self, now: float) -> CircuitBreaker:
        """A task was sent to the agent; in half-open it takes a probe slot. Unchanged if not allowed."""
        current = self.at(now)
        if current.state != "half_open" or not current.allows(now):
            return current
        return replace(current, probes_in_flight=current.probes_in_flight + 1)

    def record_success(self, now: float) -> CircuitBreaker:
        """The agent finished a task."""
        current = self.at(now)
        if current.state == "closed":
            return replace(current, consecutive_failures=0)
        if current.state == "open":
            return current
        successes = current.consecutive_successes + 1
        if successes >= self.config.success_threshold:
            return CircuitBreaker(self.config)
        return replace(current, consecutive_successes=successes, probes_in_flight=max(0, current.probes_in_flight - 1))

    def record_neutral(self, now: float) -> CircuitBreaker:
        """A task came back without saying anything about the agent (e.g. its files were locked by another
        task): no success or failure counted; in half-open its probe slot is free again."""
        current = self.at(now)
        if current.state != "half_open":
            return current
        return replace(current, probes_in_flight=max(0, current.probes_in_flight - 1))

    def record_failure(self, now: float) -> CircuitBreaker:
        """The agent failed a task (or it timed out)."""
        current = self.at(now)
        if current.state == "open":
            return current
        failures = current.consecutive_failures + 1
        if current.state == "half_open" or failures >= self.config.failure_threshold:
            return CircuitBreaker(self.config, "open", consecutive_failures=failures, opened_at=now)
        return replace(current, consecutive_failures=failures)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "config": self.config.to_dict(),
            "state": self.state,
            "consecutive_failures": self.consecutive_failures,
            "consecutive_successes": self.consecutive_successes,
            "opened_at": self.opened_at,
            "probes_in_flight": self.probes_in_flight,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CircuitBreaker:
        """Inverse of `to_dict`."""
        return cls(
            config=BreakerConfig.from_dict(data.get("config", {})),
            state=data.get("state", "closed"),
            consecutive_failures=int(data.get("consecutive_failures", 0)),
            consecutive_successes=int(data.get("consecutive_successes", 0)),
            opened_at=data.get("opened_at"),
            probes_in_flight=int(data.get("probes_in_flight", 0)),
        )
