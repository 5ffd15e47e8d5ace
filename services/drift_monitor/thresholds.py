"""Stability thresholds for drift alerts and resets, configurable per agent role."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ALERT_BELOW = 0.6
DEFAULT_RESET_BELOW = 0.5
DEFAULT_RECOVER_AT = 0.65


@dataclass(frozen=True)
class DriftThresholds:
    """When stability raises an alert, requests a reset, and counts as recovered.

    `recover_at` sits above `alert_below` (hysteresis): a score hovering around the alert line raises one
    alert, not one per interaction, and the alert clears only once the score is clearly back.
    """

    alert_below: float = DEFAULT_ALERT_BELOW
    reset_below: float = DEFAULT_RESET_BELOW
    recover_at: float = DEFAULT_RECOVER_AT

    def __post_init__(self) -> None:
        if not 0.0 <= self.reset_below <= self.alert_below <= self.recover_at <= 1.0:
            raise ValueError(
                "thresholds must satisfy 0 <= reset_below <= alert_below <= recover_at <= 1, got "
                f"reset_below={self.reset_below}, alert_below={self.alert_below}, recover_at={self.recover_at}"
            )

    def to_dict(self) -> dict[str, float]:
        """Plain JSON form."""
        return {"alert_below": self.alert_below, "reset_below": self.reset_below, "recover_at": self.recover_at}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftThresholds:
        """Inverse of `to_dict`; missing fields take their defaults."""
        return cls(**{k: float(v) for k, v in data.items()})


@dataclass(frozen=True)
class RoleThresholds:
    """Thresholds by agent role, with a default for roles not listed."""

    default: DriftThresholds = field(default_factory=DriftThresholds)
    by_role: Mapping[str, DriftThresholds] = field(default_factory=dict)

    def for_role(self, role: str) -> DriftThresholds:
        """The thresholds that apply to agents of `role`."""
        return self.by_role.get(role, self.default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoleThresholds:
        """Build from `{"default": {...}, "roles": {"architect": {...}}}`, e.g. parsed configuration."""
        default = DriftThresholds.from_dict(data.get("default", {}))
        roles = {role: DriftThresholds.from_dict(values) for role, values in data.get("roles", {}).items()}
        return cls(default=default, by_role=roles)
