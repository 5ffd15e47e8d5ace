"""Positive-negative counter: two grow-only counters, one for increments and one for decrements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.crdt.g_counter import GCounter


@dataclass(frozen=True)
class PNCounter:
    """A counter that can go up and down; value = increments - decrements."""

    increments: GCounter = field(default_factory=GCounter)
    decrements: GCounter = field(default_factory=GCounter)

    @property
    def value(self) -> int:
        """The current count (may be negative)."""
        return self.increments.value - self.decrements.value

    def increment(self, replica: str, amount: int = 1) -> PNCounter:
        """A counter raised by ``amount`` on behalf of ``replica``."""
        return PNCounter(self.increments.increment(replica, amount), self.decrements)

    def decrement(self, replica: str, amount: int = 1) -> PNCounter:
        """A counter lowered by ``amount`` on behalf of ``replica``."""
        return PNCounter(self.increments, self.decrements.increment(replica, amount))

    def merge(self, other: PNCounter) -> PNCounter:
        """Merge both halves independently."""
        return PNCounter(self.increments.merge(other.increments), self.decrements.merge(other.decrements))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (full state)."""
        return {"increments": self.increments.to_dict(), "decrements": self.decrements.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PNCounter:
        """Inverse of :meth:`to_dict`."""
        return cls(GCounter.from_dict(data["increments"]), GCounter.from_dict(data["decrements"]))
