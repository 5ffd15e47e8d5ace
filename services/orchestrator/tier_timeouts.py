"""How long each tier gets to finish a task before it counts as timed out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.orchestrator.htn.operators import Tier


@dataclass(frozen=True)
class TierTimeouts:
    """Seconds per tier; None means wait forever (a human approval is never timed out)."""

    worker_s: float | None = 30 * 60
    manager_s: float | None = 60 * 60
    approval_s: float | None = None

    def for_tier(self, tier: Tier) -> float | None:
        """The timeout of `tier` in seconds, or None for no timeout."""
        timeouts = {"worker": self.worker_s, "manager": self.manager_s, "approval": self.approval_s}
        if tier not in timeouts:
            raise ValueError(f"unknown tier '{tier}'")
        return timeouts[tier]

    def with_overrides(self, overrides: Mapping[str, float | None]) -> TierTimeouts:
        """These timeouts with some tiers replaced, e.g. `{"worker": 600}` from configuration."""
        unknown = set(overrides) - {"worker", "manager", "approval"}
        if unknown:
            raise ValueError(f"unknown tier(s): {', '.join(sorted(unknown))}")
        for tier, seconds in overrides.items():
            if seconds is not None and seconds <= 0:
                raise ValueError(f"timeout of tier '{tier}' must be positive or None, got {seconds}")
        return TierTimeouts(
            worker_s=overrides.get("worker", self.worker_s),
            manager_s=overrides.get("manager", self.manager_s),
            approval_s=overrides.get("approval", self.approval_s),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form keyed by tier."""
        return {"worker": self.worker_s, "manager": self.manager_s, "approval": self.approval_s}

    @classmethod
    def from_dict(cls, data: Mapping[str, float | None]) -> TierTimeouts:
        """Inverse of `to_dict`; missing tiers keep their defaults."""
        return cls().with_overrides(data)
