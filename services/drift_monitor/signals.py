"""What the drift monitor concludes from an interaction (facts the service turns into events)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from services.drift_monitor.drift_score import DriftBreakdown


@dataclass(frozen=True)
class BaselineEstablished:
    """The agent's baseline is complete; scoring starts with the next interaction."""

    agent_id: str
    role: str
    interaction: int
    size: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"kind": "BaselineEstablished", **asdict(self)}


@dataclass(frozen=True)
class StabilityScored:
    """An interaction was scored: its drift breakdown and the updated stability."""

    agent_id: str
    role: str
    interaction: int
    stability: float
    breakdown: DriftBreakdown

    @property
    def drift(self) -> float:
        """The combined drift of this interaction."""
        return self.breakdown.drift

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"kind": "StabilityScored", **asdict(self)}


@dataclass(frozen=True)
class DriftAlert:
    """A drift episode began (raised once per episode, see `DriftThresholds`).

    `reason` names the detector: ``stability`` (the EMA fell below `threshold`, the role's alert line) or
    ``cusum`` (the shift detector found a sustained rise of `component`'s drift score: its statistic
    `statistic` crossed `limit`; see `shift_detector`). `threshold` is the role's stability alert line either
    way.
    """

    agent_id: str
    role: str
    interaction: int
    stability: float
    drift: float
    threshold: float
    reason: str = "stability"
    component: str | None = None
    statistic: float | None = None
    limit: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"kind": "DriftAlert", **asdict(self)}


@dataclass(frozen=True)
class ResetRequested:
    """Restart the agent's session (and route away from it meanwhile).

    `reason` ``stability``: stability fell below `threshold`, the role's reset line. ``shift``: `component`
    has stayed shifted (CUSUM) for the role's `shift_reset_after` interactions since its alarm, while the
    mitigations held stability above the reset line.
    """

    agent_id: str
    role: str
    interaction: int
    stability: float
    threshold: float
    reason: str = "stability"
    component: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"kind": "ResetRequested", **asdict(self)}


@dataclass(frozen=True)
class DriftRecovered:
    """An alerting agent's stability climbed back to the recovery threshold."""

    agent_id: str
    role: str
    interaction: int
    stability: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"kind": "DriftRecovered", **asdict(self)}


DriftSignal = BaselineEstablished | StabilityScored | DriftAlert | ResetRequested | DriftRecovered
