"""An agent's capacity: the assignments it runs and, beyond capacity, the ones waiting their turn (FIFO)."""

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

    def release(self, key: K) -> None:
        """A running assignment finished; its slot is free."""
        self._running.discard(key)

    @property
    def in_flight(self) -> int:
        return len(self._running)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def free(self) -> int:
        """Slots a new assignment could take without waiting."""
        return max(self.capacity - len(self._running) - len(self._waiting), 0)
