"""An agent's capacity: the assignments it runs and, beyond capacity, the ones waiting their turn (FIFO).

A queued assignment may be passed over (``start``): one that waits for file leases another task holds keeps its
place in the queue but no slot, so the ones behind it whose files are free, or that touch none, run meanwhile.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

K = TypeVar("K")


class AgentSlots(Generic[K]):
    """At most ``capacity`` assignments run at once; more are queued in arrival order, never refused."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._running: set[K] = set()
        self._waiting: deque[K] = deque()

    def enqueue(self, key: K) -> None:
        """An accepted assignment waits for a slot."""
        if key in self._running or key in self._waiting:
            raise ValueError(f"{key} is already held")
        self._waiting.append(key)

    def start_ready(self) -> list[K]:
        """Move waiting assignments into free slots; returns the ones that may start now."""
        started: list[K] = []
        while self._waiting and len(self._running) < self.capacity:
            key = self._waiting.popleft()
            self._running.add(key)
            started.append(key)
        return started

    def queued(self) -> list[K]:
        """The assignments waiting for a slot, oldest first."""
        return list(self._waiting)

    def start(self, key: K) -> bool:
        """Give a slot to the queued assignment ``key`` (passing over those before it); False when none is free."""
        if key not in self._waiting:
            raise ValueError(f"{key} is not queued")
        if len(self._running) >= self.capacity:
            return False
        self._waiting.remove(key)
        self._running.add(key)
        return True

    def release(self, key: K) -> None:
        """An assignment finished (running, or settled while still queued); its slot or place is free."""
        if key in self._running:
            self._running.discard(key)
        elif key in self._waiting:
            self._waiting.remove(key)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    @property
    def has_room(self) -> bool:
        """Whether a queued assignment could start now."""
        return len(self._running) < self.capacity

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def free(self) -> int:
        """Slots a new assignment could take without waiting."""
        return max(self.capacity - len(self._running) - len(self._waiting), 0)
