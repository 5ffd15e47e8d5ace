"""Pending timers, earliest first: the pure core of the scheduler."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class Timer:
    """Deliver ``event`` (a whole envelope as JSON-ready dict) at ``due_at`` (epoch seconds); ``trace`` is the W3C
    context of the scheduling, so the delivery continues the trace of what scheduled it."""

    due_at: float
    event_id: str
    event: dict[str, Any] = field(compare=False)
    trace: dict[str, str] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"due_at": self.due_at, "event_id": self.event_id, "event": self.event, "trace": self.trace}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timer:
        trace = {str(k): str(v) for k, v in (data.get("trace") or {}).items()}
        return cls(float(data["due_at"]), str(data["event_id"]), dict(data["event"]), trace)


class TimerQueue:
    """Timers keyed by the id of the event they deliver, so scheduling the same event twice keeps one timer."""

    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._by_id: dict[str, Timer] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, timer: Timer) -> bool:
        """Schedule; False when a timer for the same event is already pending (a redelivered command)."""
        if timer.event_id in self._by_id:
            return False
        self._by_id[timer.event_id] = timer
        heapq.heappush(self._heap, timer)
        return True

    def pop_due(self, now: float) -> list[Timer]:
        """Every timer due at ``now``, earliest first, removed from the queue."""
        due = []
        while self._heap and self._heap[0].due_at <= now:
            timer = heapq.heappop(self._heap)
            if self._by_id.pop(timer.event_id, None) is not None:
                due.append(timer)
        return due

    def next_due(self) -> float | None:
        return self._heap[0].due_at if self._heap else None
