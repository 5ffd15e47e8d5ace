"""A learned estimate of how long an agent's tasks take, for the ETA of its bids."""

from __future__ import annotations

from dataclasses import dataclass, replace

DEFAULT_ETA_S = 60.0


@dataclass(frozen=True)
class LatencyEstimate:
    """Exponential moving average of observed durations, starting from a prior."""

    seconds: float = DEFAULT_ETA_S
    alpha: float = 0.2
    observations: int = 0

    def __post_init__(self) -> None:
        if self.seconds < 0 or not 0 < self.alpha <= 1:
            raise ValueError("seconds must be non-negative and alpha within (0, 1]")

    def observe(self, seconds: float) -> LatencyEstimate:
        """The estimate after one more task took ``seconds`` (the first observation replaces the prior)."""
        seconds = max(seconds, 0.0)
        if self.observations == 0:
            return replace(self, seconds=seconds, observations=1)
        blended = (1 - self.alpha) * self.seconds + self.alpha * seconds
        return replace(self, seconds=blended, observations=self.observations + 1)
