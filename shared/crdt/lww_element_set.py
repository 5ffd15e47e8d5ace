"""Last-writer-wins element set: each element's latest add and latest remove, compared by HLC time.

Bias: **add wins** when an element's add and remove carry the *same* timestamp. Timestamps from
different replicas never compare equal (the replica id is part of the hybrid timestamp, so it breaks
ties between concurrent writers deterministically); equal stamps only arise when one replica uses one
stamp for both operations. Add-wins was chosen because the set guards things like files being edited:
a lock that is wrongly kept is visible and releasable, a lock that is wrongly dropped lets two agents
edit the same file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.crdt.hlc import HybridTimestamp


def _latest(first: Mapping[str, HybridTimestamp], second: Mapping[str, HybridTimestamp]) -> dict[str, HybridTimestamp]:
    merged = dict(first)
    for element, stamp in second.items():
        if element not in merged or stamp > merged[element]:
            merged[element] = stamp
    return dict(sorted(merged.items()))


@dataclass(frozen=True)
class LWWElementSet:
    """A set of strings whose membership is decided by the latest add versus the latest remove."""

    adds: Mapping[str, HybridTimestamp] = field(default_factory=dict)
    removes: Mapping[str, HybridTimestamp] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "adds", dict(sorted(self.adds.items())))
        object.__setattr__(self, "removes", dict(sorted(self.removes.items())))

    def add(self, element: str, at: HybridTimestamp) -> LWWElementSet:
        """Record an add of ``element`` at ``at`` (an older stamp than the known add changes nothing)."""
        return LWWElementSet(_latest(self.adds, {element: at}), self.removes)

    def remove(self, element: str, at: HybridTimestamp) -> LWWElementSet:
        """Record a remove of ``element`` at ``at``; it wins only over adds stamped strictly earlier."""
        return LWWElementSet(self.adds, _latest(self.removes, {element: at}))

    def __contains__(self, element: object) -> bool:
        if not isinstance(element, str) or element not in self.adds:
            return False
        removed = self.removes.get(element)
        return removed is None or self.adds[element] >= removed

    @property
    def elements(self) -> frozenset[str]:
        """The current members."""
        return frozenset(element for element in self.adds if element in self)

    def merge(self, other: LWWElementSet) -> LWWElementSet:
        """Keep the latest add and the latest remove per element."""
        return LWWElementSet(_latest(self.adds, other.adds), _latest(self.removes, other.removes))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (full state)."""
        return {
            "adds": {element: stamp.to_dict() for element, stamp in self.adds.items()},
            "removes": {element: stamp.to_dict() for element, stamp in self.removes.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LWWElementSet:
        """Inverse of :meth:`to_dict`."""
        return cls(
            {e: HybridTimestamp.from_dict(s) for e, s in data.get("adds", {}).items()},
            {e: HybridTimestamp.from_dict(s) for e, s in data.get("removes", {}).items()},
        )
