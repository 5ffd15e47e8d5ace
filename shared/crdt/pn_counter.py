"""Positive-negative counter: two grow-only counters, one for increments and one for decrements."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.crdt.g_counter import GCounter


@dataclass(frozen=True)
class PNCounter:
    """A counter that can go up and down; value = increments - decrements.

    Keyed use (e.g. tasks in flight: +1 keyed by the task when it starts, -1 with the same key when it ends)
    counts each start once and undoes it at most once, and only once it was counted: a finish reported again
    after a crash, or one whose start was lost, leaves the value alone (see `GCounter` on remembered keys).
    """

    increments: GCounter = field(default_factory=GCounter)
    decrements: GCounter = field(default_factory=GCounter)

    @property
    def value(self) -> int:
        """The current count (may be negative)."""
        return self.increments.value - self.decrements.value

    def increment(self, replica: str, amount: int = 1, key: str | None = None) -> PNCounter:
        """A counter raised by ``amount`` on behalf of ``replica`` (with a ``key``: once per key)."""
        return PNCounter(self.increments.increment(replica, amount, key), self.decrements)

    def decrement(self, replica: str, amount: int = 1, key: str | None = None) -> PNCounter:
        """A counter lowered by ``amount`` on behalf of ``replica``.

        With a ``key``: undoes that key's increment, so only if it was counted and not undone already.
        """
        if key is not None and not self.increments.counted(key):
            return self
        return PNCounter(self.increments, self.decrements.increment(replica, amount, key))

    def apply_keyed(self, replica: str, changes: Iterable[tuple[int, str]]) -> PNCounter:
        """A counter with keyed changes applied in order, in one pass: ``(+1, key)`` as ``increment(replica,
        key=key)`` and ``(-1, key)`` as ``decrement(replica, key=key)``. Equal to those calls one by one while each
        half's remembered keys and its new ones fit in `RECENT_KEYS`; beyond that the batch still undoes a start
        evicted within it, where one by one would leave it in flight (see `GCounter.increment_keys`)."""
        started, ended = self.increments.remembered(), self.decrements.remembered()
        ups: list[str] = []
        downs: list[str] = []
        for sign, key in changes:
            if sign > 0 and key not in started:
                started.add(key)
                ups.append(key)
            elif sign < 0 and key in started and key not in ended:
                ended.add(key)
                downs.append(key)
        return PNCounter(
            self.increments._with_new_keys(replica, ups, 1), self.decrements._with_new_keys(replica, downs, 1)
        )

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
