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

Beside the CUSUM, each channel counts its *outliers*: outputs whose standardised score reaches ``clip``.
More than ``outlier_limit`` (1) of them within ``outlier_window`` (40) interactions alarm too. This catches
a slowly growing rate of rare, total deviations on a channel that never varied in the baseline (a JSON
reporter that answers in prose now and then, more often as it drifts): there the CUSUM needs two such
outputs within a few interactions, since each adds ``clip - k`` and every normal output takes ``k`` away,
and a rare deviation may take longer than that to repeat. One outlier never alarms alone either way.

The detector's channels are the drift components plus ``vocabulary`` (`vocabulary.novelty`: the share of
an output's words its baseline never used), a second, less noisy view of the semantic component: its
alarms name the ``semantic`` component.

A channel that alarmed stays *shifted* until its statistic returns to 0 and its outliers are no longer
crowded (the evidence is spent); the agent state treats a shifted channel as an open drift episode.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Component = Literal["semantic", "format", "tools"]
COMPONENTS: tuple[Component, ...] = ("semantic", "format", "tools")
Channel = Literal["semantic", "format", "tools", "vocabulary"]
#: Detector channels, in the order their alarms are reported; ``vocabulary`` is optional (older records).
CHANNELS: tuple[Channel, ...] = ("semantic", "format", "tools", "vocabulary")
#: The drift component each channel's alarm names.
COMPONENT_OF: dict[str, Component] = {
    "semantic": "semantic",
    "format": "format",
    "tools": "tools",
    "vocabulary": "semantic",
}
Test = Literal["cusum", "outliers"]

DEFAULT_CUSUM_K = 1.0
DEFAULT_CUSUM_H = 14.0
DEFAULT_CUSUM_MIN_SIGMA = 0.05
DEFAULT_CUSUM_CLIP = 10.0
DEFAULT_OUTLIER_WINDOW = 40
DEFAULT_OUTLIER_LIMIT = 1
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
    outlier_window: int = DEFAULT_OUTLIER_WINDOW
    outlier_limit: int = DEFAULT_OUTLIER_LIMIT

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
        if self.outlier_window < 0 or self.outlier_limit < 1:
            raise ValueError(
                f"outlier_window must be 0 (off) or positive and outlier_limit at least 1 (one outlier never "
                f"alarms alone), got outlier_window={self.outlier_window}, outlier_limit={self.outlier_limit}"
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
    """A channel's CUSUM crossed its decision interval (``test`` cusum: statistic and limit in baseline
    standard deviations), or more than the allowed outliers fell in the window (``test`` outliers: the
    outlier count and the allowance)."""

    component: Component
    statistic: float
    limit: float
    baseline_mean: float
    channel: Channel = "semantic"
    test: Test = "cusum"


class ShiftDetector:
    """A CUSUM and an outlier count per channel over an agent's scores; serialisable with `to_dict` /
    `from_dict`. The drift components' statistics are required; a channel without statistics (``vocabulary``
    in a record stored before it existed) is not watched."""

    def __init__(self, stats: Mapping[str, ComponentStats]) -> None:
        missing = set(COMPONENTS) - set(stats)
        if missing:
            raise ValueError(f"statistics missing for {sorted(missing)}")
        self.stats: dict[str, ComponentStats] = {c: stats[c] for c in CHANNELS if c in stats}
        self.sums: dict[str, float] = dict.fromkeys(self.stats, 0.0)
        self.outliers: dict[str, list[int]] = {c: [] for c in self.stats}
        self.seen = 0
        self.shifted: set[str] = set()

    def update(self, scores: Mapping[str, float], params: CusumParameters) -> list[ShiftAlarm]:
        """Take one interaction's channel scores; return the channels that alarm now (newly shifted)."""
        if not params.enabled:
            return []
        self.seen += 1
        alarms = []
        cap = CAP_FACTOR * params.h
        for channel, stats in self.stats.items():
            if channel not in scores:
                continue
            z = (scores[channel] - stats.mean) / max(stats.sigma, params.min_sigma)
            total = min(cap, max(0.0, self.sums[channel] + min(params.clip, z) - params.k))
            self.sums[channel] = total
            recent = [i for i in self.outliers[channel] if i > self.seen - params.outlier_window]
            if z >= params.clip and params.outlier_window > 0:
                recent.append(self.seen)
            self.outliers[channel] = recent
            crowded = len(recent) > params.outlier_limit
            if (total > params.h or crowded) and channel not in self.shifted:
                self.shifted.add(channel)
                component = COMPONENT_OF[channel]
                if total > params.h:
                    alarms.append(ShiftAlarm(component, total, params.h, stats.mean, channel))  # type: ignore[arg-type]
                else:
                    alarm = ShiftAlarm(component, len(recent), params.outlier_limit, stats.mean, channel, "outliers")  # type: ignore[arg-type]
                    alarms.append(alarm)
            elif total == 0.0 and not crowded:
                self.shifted.discard(channel)
        return alarms

    @property
    def any_shifted(self) -> bool:
        return bool(self.shifted)

    @property
    def shifted_components(self) -> list[Component]:
        """The drift components named by the shifted channels, sorted."""
        return sorted({COMPONENT_OF[c] for c in self.shifted})

    def to_dict(self) -> dict[str, Any]:
        return {
            "stats": {c: {"mean": s.mean, "sigma": s.sigma} for c, s in self.stats.items()},
            "sums": dict(self.sums),
            "outliers": {c: list(v) for c, v in self.outliers.items()},
            "seen": self.seen,
            "shifted": sorted(self.shifted),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShiftDetector:
        stats = {c: ComponentStats(float(v["mean"]), float(v["sigma"])) for c, v in data["stats"].items()}
        detector = cls(stats)
        detector.sums.update({c: float(v) for c, v in data.get("sums", {}).items() if c in detector.stats})
        detector.outliers.update(
            {c: [int(i) for i in v] for c, v in data.get("outliers", {}).items() if c in detector.stats}
        )
        detector.seen = int(data.get("seen", 0))
        detector.shifted = {c for c in data.get("shifted", []) if c in detector.stats}
        return detector
