"""Grow-only counter: one monotonically increasing count per replica; the value is their sum."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Keys of keyed increments each replica remembers (its latest ones), to count each key once.
RECENT_KEYS = 1024


@dataclass(frozen=True)
class GCounter:
    """A grow-only counter (e.g. tasks completed). Treat ``counts`` and ``recent`` as read-only.

    Each replica only increments its own entry; merge takes the maximum per replica, which is
    commutative, associative and idempotent, so replicas converge whatever the delivery order.

    Keyed increments (``increment(replica, key=task_id)``) count a key once: a replica remembers the keys of
    its latest `RECENT_KEYS` keyed increments beside its count (``recent``), and an increment whose key any
    replica's entry already holds changes nothing. So a task reported again after a crash, or retried on
    another runtime once the first count has replicated, is not counted twice. Per replica, (count, recent)
    only moves forward, and merge keeps the entry of the larger count (of the larger key list on a tie, which
    only a replica contradicting itself produces): still a join, so the laws hold. Two replicas counting the
    same key before either saw the other's count both count it; a CRDT cannot order them.
    """

    counts: Mapping[str, int] = field(default_factory=dict)
    recent: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if any(count < 0 for count in self.counts.values()):
            raise ValueError("G-Counter entries must be non-negative")
        # Zero entries carry no information; dropping them keeps equal values structurally equal.
        object.__setattr__(self, "counts", {r: c for r, c in sorted(self.counts.items()) if c})
        object.__setattr__(
            self, "recent", {r: tuple(k) for r, k in sorted(self.recent.items()) if k and r in self.counts}
        )

    @property
    def value(self) -> int:
        """The counted total."""
        return sum(self.counts.values())

    def count_of(self, replica: str) -> int:
        """How much ``replica`` has contributed."""
        return self.counts.get(replica, 0)

    def counted(self, key: str) -> bool:
        """Whether a keyed increment with ``key`` is remembered by any replica's entry."""
        return any(key in keys for keys in self.recent.values())

    def increment(self, replica: str, amount: int = 1, key: str | None = None) -> GCounter:
        """A counter with ``replica``'s entry raised by ``amount`` (which must not be negative).

        With a ``key``, only if no replica's entry remembers that key already (then this counter unchanged).
        """
        if amount < 0:
            raise ValueError("a G-Counter cannot decrease")
        if key is None:
            return GCounter({**self.counts, replica: self.count_of(replica) + amount}, self.recent)
        return self if self.counted(key) else self._with_new_keys(replica, [key], amount)

    def remembered(self) -> set[str]:
        """Every key some replica's entry remembers (a new set, the caller's to change)."""
        return {key for keys in self.recent.values() for key in keys}

    def increment_keys(self, replica: str, keys: Iterable[str], amount: int = 1) -> GCounter:
        """A counter with one keyed increment by ``amount`` per key of ``keys``, in one pass.

        A key the counter remembers counts not at all, a key repeated within ``keys`` once. That equals
        ``increment(replica, amount, key)`` for each key in turn while the replica's remembered keys and the new
        ones together fit in `RECENT_KEYS`; beyond that, one by one would forget a key evicted within the batch and
        count it again, the batch does not. One pass over the remembered keys per call, where each ``increment``
        makes its own.
        """
        if amount < 0:
            raise ValueError("a G-Counter cannot decrease")
        return self._with_new_keys(replica, _new_keys(keys, self.remembered()), amount)

    def _with_new_keys(self, replica: str, fresh: list[str], amount: int) -> GCounter:
        """This counter with ``fresh`` (keys it does not remember) counted for ``replica``, ``amount`` each."""
        if not fresh:
            return self
        keys = (*self.recent.get(replica, ()), *fresh)[-RECENT_KEYS:]
        counts = {**self.counts, replica: self.count_of(replica) + amount * len(fresh)}
        return GCounter(counts, {**self.recent, replica: keys})

    def merge(self, other: GCounter) -> GCounter:
        """The least counter that includes both: the maximum entry per replica (with its remembered keys)."""
        counts: dict[str, int] = {}
        recent: dict[str, tuple[str, ...]] = {}
        for r in self.counts.keys() | other.counts.keys():
            mine = (self.count_of(r), self.recent.get(r, ()))
            theirs = (other.count_of(r), other.recent.get(r, ()))
            counts[r], recent[r] = max(mine, theirs)
        return GCounter(counts, recent)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (the full state, suitable for a compacted topic)."""
        data: dict[str, Any] = {"counts": dict(self.counts)}
        if self.recent:
            data["recent"] = {r: list(keys) for r, keys in self.recent.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GCounter:
        """Inverse of :meth:`to_dict`."""
        recent = {str(r): tuple(str(k) for k in keys) for r, keys in data.get("recent", {}).items()}
        return cls({str(r): int(c) for r, c in data.get("counts", {}).items()}, recent)


def _new_keys(keys: Iterable[str], remembered: set[str]) -> list[str]:
    """The keys not in ``remembered``, each once, in order (``remembered`` gains them)."""
    fresh = []
    for key in keys:
        if key not in remembered:
            remembered.add(key)
            fresh.append(key)
    return fresh
