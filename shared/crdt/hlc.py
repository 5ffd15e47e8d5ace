"""Hybrid logical clocks: timestamps that follow physical time yet never contradict causality.

A timestamp is (physical milliseconds, logical counter, replica id). The physical part stays close to
the wall clock; the logical counter orders events that share a millisecond or that arrive from a
replica whose clock runs ahead. The replica id makes the order total, so two replicas never produce
equal timestamps and last-writer-wins ties are broken the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ClockDriftError(ValueError):
    """A remote timestamp is further ahead of the local physical clock than the clock tolerates."""


@dataclass(frozen=True, order=True)
class HybridTimestamp:
    """A point in hybrid logical time; ordered by (physical_ms, logical, replica)."""

    physical_ms: int
    logical: int
    replica: str

    def __post_init__(self) -> None:
        if self.physical_ms < 0 or self.logical < 0:
            raise ValueError("hybrid timestamp components must be non-negative")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"physical_ms": self.physical_ms, "logical": self.logical, "replica": self.replica}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HybridTimestamp:
        """Inverse of :meth:`to_dict`."""
        return cls(int(data["physical_ms"]), int(data["logical"]), str(data["replica"]))


def _millis(now: float) -> int:
    return int(now * 1000)


@dataclass(frozen=True)
class HybridClock:
    """The clock of one replica: the last timestamp it issued, advanced by the send and receive rules.

    ``now`` is the replica's physical time in seconds, passed in so that replays are deterministic.
    ``max_drift_ms`` (default: no limit) rejects remote timestamps that are more than that far ahead of
    ``now``, so one replica with a broken clock cannot drag every other clock into the future.
    """

    replica: str
    physical_ms: int = 0
    logical: int = 0
    max_drift_ms: int | None = None

    @property
    def last(self) -> HybridTimestamp:
        """The most recent timestamp this clock issued (or its initial value)."""
        return HybridTimestamp(self.physical_ms, self.logical, self.replica)

    def send(self, now: float) -> tuple[HybridClock, HybridTimestamp]:
        """Timestamp a local event or an outgoing message; returns the advanced clock and the stamp."""
        physical = max(self.physical_ms, _millis(now))
        logical = self.logical + 1 if physical == self.physical_ms else 0
        return self._advanced(physical, logical)

    def receive(self, remote: HybridTimestamp, now: float) -> tuple[HybridClock, HybridTimestamp]:
        """Timestamp the receipt of ``remote``: the result is later than both ``remote`` and ``last``."""
        wall = _millis(now)
        if self.max_drift_ms is not None and remote.physical_ms - wall > self.max_drift_ms:
            raise ClockDriftError(
                f"timestamp from {remote.replica} is {remote.physical_ms - wall} ms ahead "
                f"(limit {self.max_drift_ms} ms)"
            )
        physical = max(self.physical_ms, remote.physical_ms, wall)
        if physical == self.physical_ms == remote.physical_ms:
            logical = max(self.logical, remote.logical) + 1
        elif physical == self.physical_ms:
            logical = self.logical + 1
        elif physical == remote.physical_ms:
            logical = remote.logical + 1
        else:
            logical = 0
        return self._advanced(physical, logical)

    def _advanced(self, physical: int, logical: int) -> tuple[HybridClock, HybridTimestamp]:
        clock = HybridClock(self.replica, physical, logical, self.max_drift_ms)
        return clock, clock.last

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "replica": self.replica,
            "physical_ms": self.physical_ms,
            "logical": self.logical,
            "max_drift_ms": self.max_drift_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HybridClock:
        """Inverse of :meth:`to_dict`."""
        drift = data.get("max_drift_ms")
        return cls(
            str(data["replica"]),
            int(data["physical_ms"]),
            int(data["logical"]),
            None if drift is None else int(drift),
        )
