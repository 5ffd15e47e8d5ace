"""Periodic work driven by the caller's clock (heartbeats, pruning): due at once, then every interval."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Periodic:
    """Answers whether the work is due at ``now``; a due answer schedules the next one an interval later."""

    interval_s: float
    next_due: float | None = None

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError("interval_s must be positive")

    def due(self, now: float) -> bool:
        if self.next_due is not None and now < self.next_due:
            return False
        # From now, not from the missed due time: a stalled loop sends one heartbeat, not a burst.
        self.next_due = now + self.interval_s
        return True
