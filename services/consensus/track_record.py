"""Track records: how often an agent's past votes turned out right, and the voting weight that earns.

weight = (correct + 1) / (total + 2), Laplace's rule of succession: an agent with no history weighs
1/2, one perfect answer gives 2/3, and the weight approaches the agent's hit rate as evidence
accumulates, without ever reaching 0 or 1 (one lucky or unlucky call cannot make an agent a dictator
or mute it). What "correct" means (a bug later confirmed, a choice that survived review) is for the
service that records outcomes to decide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TrackRecord:
    """``correct`` right calls out of ``total`` judged ones."""

    correct: int = 0
    total: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.correct <= self.total:
            raise ValueError(f"need 0 <= correct <= total, got {self.correct}/{self.total}")

    @property
    def weight(self) -> float:
        """Laplace-smoothed hit rate, in (0, 1)."""
        return (self.correct + 1) / (self.total + 2)

    def record(self, correct: bool) -> TrackRecord:
        """The record after one more judged call."""
        return TrackRecord(self.correct + int(correct), self.total + 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"correct": self.correct, "total": self.total}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrackRecord:
        """Inverse of :meth:`to_dict`."""
        return cls(int(data["correct"]), int(data["total"]))


def weights_from_track_records(agents: Iterable[str], records: Mapping[str, TrackRecord]) -> dict[str, float]:
    """The weight of every agent in ``agents``; agents without a record get the no-history weight 1/2."""
    return {agent: records.get(agent, TrackRecord()).weight for agent in sorted(set(agents))}
