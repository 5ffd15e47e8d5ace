"""Early drift detection: a one-sided CUSUM per drift component, beside the stability EMA.

The EMA (0.9/0.1) is slow by design: a drift that grows gradually only pulls it below the alert line once the
effective drift is large. A CUSUM (Page 1954) reacts to a *sustained* upward shift of a component's drift
score, however small, as soon as the accumulated evidence is significant:

    z_t = min(clip, (x_t - mean) / sigma)          standardised against the agent's own baseline
    S_t = min(cap, max(0, S_{t-1} + z_t - k))       k: allowance (half the shift worth detecting, in sigmas)
    alarm when S_t > h                              h: decision interval (false-alarm rate vs delay)

per component (semantic, format, tools). ``mean`` and ``sigma`` are learned from the baseline itself: each
of its interactions is scored against a baseline made of the others (leave-one-out), so the statistics
describe how a fresh on-baseline output scores; the mean is raised by one standard error, because a CUSUM
run against an underestimated mean alarms sooner or later on a perfectly stable agent. ``sigma`` never
goes below ``min_sigma``: the scripted (and many real) agents have channels that never vary during the
baseline, where any deviation would otherwise be infinitely significant. ``clip`` bounds what one output
can contribute, so a single odd output never alarms on its own (the shift must be sustained); ``cap``
bounds the statistic so that, once the agent behaves again, the alarm clears within ``cap / k``
interactions.

A component that alarmed stays *shifted* until its statistic returns to 0 (the evidence is spent); the agent
state treats a shifted component as an open drift episode.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Component = Literal["semantic", "format", "tools"]
COMPONENTS: tuple[Component, ...] = ("semantic", "format", "tools")

DEFAULT_CUSUM_K = 1.0
DEFAULT_CUSUM_H = 14.0
DEFAULT_CUSUM_MIN_SIGMA = 0.05
DEFAULT_CUSUM_CLIP = 10.0
#: Standard errors added to a baseline's mean score (see `ComponentStats.of`).
BASELINE_GUARD = 1.0
#: The statistic is capped at this multiple of h.
CAP_FACTOR = 1.5


@dataclass(frozen=True)
class CusumParameters:
    """The CUSUM's knobs (from the role's `DriftThresholds`); ``h <= 0`` disables the detector."""

    k: float = DEFAULT_CUSUM_K
    h: float = DEFAULT_CUSUM_H
    min_sigma: float = DEFAULT_CUSUM_MIN_SIGMA
    clip: float = DEFAULT_CUSUM_CLIP

    def __post_init__(self) -> None:
        if self.k < 0 or self.min_sigma <= 0 or self.clip <= 0:
            raise ValueError(
                f"cusum needs k >= 0, min_sigma > 0 and clip > 0, got k={self.k}, "
                f"min_sigma={self.min_sigma}, clip={self.clip}"
            )
        if 0 < self.h < self.clip - self.k:
            raise ValueError(
                f"cusum_h ({self.h}) below cusum_clip - cusum_k ({self.clip - self.k}) lets one output alarm alone"
            )

    @property
    def enabled(self) -> bool:
        return self.h > 0


@dataclass(frozen=True)
class ComponentStats:
    """Mean and standard deviation of one component's drift score over the baseline (leave-one-out)."""

    mean: float
    sigma: float

    @classmethod
    def of(cls, scores: Iterable[float], guard: float = 0.0) -> ComponentStats:
        """Sample mean and standard deviation; the mean raised by `guard` standard errors.

        Twenty baseline scores estimate the mean only roughly, and a CUSUM run against an underestimated
        mean drifts upwards forever (its false-alarm rate is far above the nominal one). Raising the mean by
        one standard error (`BASELINE_GUARD`) keeps it at or above the true mean in most baselines.
        """
        values = list(scores)
        if not values:
            raise ValueError("component statistics need at least one score")
        mean = sum(values) / len(values)
        sigma = math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1))
        return cls(mean + guard * sigma / math.sqrt(len(values)), sigma)


@dataclass(frozen=True)
class ShiftAlarm:
    """A component's CUSUM crossed its decision interval."""

    component: Component
    statistic: float
    limit: float
    baseline_mean: float


class ShiftDetector:
    """One CUSUM per component over an agent's drift scores; serialisable with `to_dict` / `from_dict`."""

    def __init__(self, stats: Mapping[Component, ComponentStats]) -> None:
        missing = set(COMPONENTS) - set(stats)
        if missing:
            raise ValueError(f"statistics missing for {sorted(missing)}")
        self.stats = dict(stats)
        self.sums: dict[Component, float] = dict.fromkeys(COMPONENTS, 0.0)
        self.shifted: set[Component] = set()

    def update(self, scores: Mapping[Component, float], params: CusumParameters) -> list[ShiftAlarm]:
        """Take one interaction's component scores; return the components that alarm now (newly shifted)."""
        if not params.enabled:
            return []
        alarms = []
        cap = CAP_FACTOR * params.h
        for component in COMPONENTS:
            stats = self.stats[component]
            z = min(params.clip, (scores[component] - stats.mean) / max(stats.sigma, params.min_sigma))
            total = min(cap, max(0.0, self.sums[component] + z - params.k))
            self.sums[component] = total
            if total > params.h and component not in self.shifted:
                self.shifted.add(component)
                alarms.append(ShiftAlarm(component, total, params.h, stats.mean))
            elif total == 0.0:
                self.shifted.discard(component)
        return alarms

    @property
    def any_shifted(self) -> bool:
        return bool(self.shifted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stats": {c: {"mean": s.mean, "sigma": s.sigma} for c, s in self.stats.items()},
            "sums": dict(self.sums),
            "shifted": sorted(self.shifted),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShiftDetector:
        stats = {c: ComponentStats(float(v["mean"]), float(v["sigma"])) for c, v in data["stats"].items()}
        detector = cls(stats)  # type: ignore[arg-type]
        detector.sums.update({c: float(v) for c, v in data.get("sums", {}).items()})  # type: ignore[misc]
        detector.shifted = {c for c in data.get("shifted", []) if c in COMPONENTS}
        return detector
