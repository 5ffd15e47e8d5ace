"""Grow-only counter: one monotonically increasing count per replica; the value is their sum."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GCounter:
    """A grow-only counter (e.g. tasks completed). Treat ``counts`` as read-only.

    Each replica only increments its own entry; merge takes the maximum per replica, which is
    commutative, associative and idempotent, so replicas converge whatever the delivery order.
    """

    counts: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if any(count < 0 for count in self.counts.values()):
            raise ValueError("G-Counter entries must be non-negative")
        # Zero entries carry no information; dropping them keeps equal values structurally equal.
        object.__setattr__(self, "counts", {r: c for r, c in sorted(self.counts.items()) if c})

    @property
    def value(self) -> int:
        """The counted total."""
        return sum(self.counts.values())

    def count_of(self, replica: str) -> int:
        """How much ``replica`` has contributed."""
        return self.counts.get(replica, 0)

    def increment(self, replica: str, amount: int = 1) -> GCounter:
        """A counter with ``replica``'s entry raised by ``amount`` (which must not be negative)."""
        if amount < 0:
            raise ValueError("a G-Counter cannot decrease")
        return GCounter({**self.counts, replica: self.count_of(replica) + amount})

    def merge(self, other: GCounter) -> GCounter:
        """The least counter that includes both: the maximum entry per replica."""
        replicas = self.counts.keys() | other.counts.keys()
        return GCounter({r: max(self.count_of(r), other.count_of(r)) for r in replicas})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (the full state, suitable for a compacted topic)."""
        return {"counts": dict(self.counts)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GCounter:
        """Inverse of :meth:`to_dict`."""
        return cls({str(r): int(c) for r, c in data.get("counts", {}).items()})
