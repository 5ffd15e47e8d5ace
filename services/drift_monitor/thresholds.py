"""Stability thresholds for drift alerts and resets, configurable per agent role."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.drift_monitor.shift_detector import (
    DEFAULT_CUSUM_CLIP,
    DEFAULT_CUSUM_H,
    DEFAULT_CUSUM_K,
    DEFAULT_CUSUM_MIN_SIGMA,
    DEFAULT_OUTLIER_LIMIT,
    DEFAULT_OUTLIER_WINDOW,
    CusumParameters,
)

DEFAULT_ALERT_BELOW = 0.6
DEFAULT_RESET_BELOW = 0.5
DEFAULT_RECOVER_AT = 0.65
DEFAULT_SHIFT_RESET_AFTER = 20
_INTEGER_FIELDS = frozenset({"shift_reset_after", "cusum_outlier_window", "cusum_outlier_limit"})


@dataclass(frozen=True)
class DriftThresholds:
    """When stability raises an alert, requests a reset, and counts as recovered; when the CUSUM alarms.

    `recover_at` sits above `alert_below` (hysteresis): a score hovering around the alert line raises one
    alert, not one per interaction, and the alert clears only once the score is clearly back.

    The `cusum_*` knobs drive the early shift detector (`services.drift_monitor.shift_detector`): allowance
    `cusum_k` and decision interval `cusum_h` in baseline standard deviations, the floor `cusum_min_sigma`
    of a component's standard deviation, and `cusum_clip`, the most one interaction can add. `cusum_h = 0`
    turns the detector off (alerts come from stability alone). Beside the CUSUM, more than
    `cusum_outlier_limit` outputs at the clip within `cusum_outlier_window` interactions alarm too (window 0:
    off).

    `shift_reset_after`: a component still shifted this many interactions after its CUSUM alarm also requests
    a reset, whatever the stability: anchoring and consolidation damp the drift score and hold the EMA above
    `reset_below`, while a shift they do not cure stays significant. They get this many interactions to cure
    it (the alarm clears); 0 leaves resets to stability alone.
    """

    alert_below: float = DEFAULT_ALERT_BELOW
    reset_below: float = DEFAULT_RESET_BELOW
    recover_at: float = DEFAULT_RECOVER_AT
    cusum_k: float = DEFAULT_CUSUM_K
    cusum_h: float = DEFAULT_CUSUM_H
    cusum_min_sigma: float = DEFAULT_CUSUM_MIN_SIGMA
    cusum_clip: float = DEFAULT_CUSUM_CLIP
    shift_reset_after: int = DEFAULT_SHIFT_RESET_AFTER
    cusum_outlier_window: int = DEFAULT_OUTLIER_WINDOW
    cusum_outlier_limit: int = DEFAULT_OUTLIER_LIMIT

    def __post_init__(self) -> None:
        if not 0.0 <= self.reset_below <= self.alert_below <= self.recover_at <= 1.0:
            raise ValueError(
                "thresholds must satisfy 0 <= reset_below <= alert_below <= recover_at <= 1, got "
                f"reset_below={self.reset_below}, alert_below={self.alert_below}, recover_at={self.recover_at}"
            )
        self.cusum  # noqa: B018 -- validates the detector's knobs
        if self.shift_reset_after < 0:
            raise ValueError(f"shift_reset_after must be 0 (off) or positive, got {self.shift_reset_after}")

    @property
    def cusum(self) -> CusumParameters:
        """The shift detector's parameters for this role."""
        return CusumParameters(
            k=self.cusum_k,
            h=self.cusum_h,
            min_sigma=self.cusum_min_sigma,
            clip=self.cusum_clip,
            outlier_window=self.cusum_outlier_window,
            outlier_limit=self.cusum_outlier_limit,
        )

    def to_dict(self) -> dict[str, float]:
        """Plain JSON form."""
        return {
            "alert_below": self.alert_below,
            "reset_below": self.reset_below,
            "recover_at": self.recover_at,
            "cusum_k": self.cusum_k,
            "cusum_h": self.cusum_h,
            "cusum_min_sigma": self.cusum_min_sigma,
            "cusum_clip": self.cusum_clip,
            "shift_reset_after": self.shift_reset_after,
            "cusum_outlier_window": self.cusum_outlier_window,
            "cusum_outlier_limit": self.cusum_outlier_limit,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftThresholds:
        """Inverse of `to_dict`; missing fields take their defaults."""
        return cls(**{k: int(v) if k in _INTEGER_FIELDS else float(v) for k, v in data.items()})


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
