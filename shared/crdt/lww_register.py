"""Last-writer-wins register: a single JSON value stamped with the hybrid time of its write."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.crdt.hlc import HybridTimestamp

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


@dataclass(frozen=True)
class LWWRegister:
    """A value and the timestamp of the write that produced it; ``deleted`` marks a cleared register.

    The later timestamp wins. Two writes with the same timestamp (one replica reusing a stamp) are
    ordered by content so every replica picks the same one: a live value beats a deletion (the same
    add-wins bias as :mod:`shared.crdt.lww_element_set`), then the larger canonical JSON wins.
    """

    value: JsonValue
    timestamp: HybridTimestamp
    deleted: bool = False

    def _rank(self) -> tuple[HybridTimestamp, bool, str]:
        return self.timestamp, not self.deleted, json.dumps(self.value, sort_keys=True)

    def assign(self, value: JsonValue, at: HybridTimestamp) -> LWWRegister:
        """The register after a write of ``value`` at ``at``."""
        return self.merge(LWWRegister(value, at))

    def clear(self, at: HybridTimestamp) -> LWWRegister:
        """The register after a deletion at ``at``."""
        return self.merge(LWWRegister(None, at, deleted=True))

    def merge(self, other: LWWRegister) -> LWWRegister:
        """The winning write of the two."""
        return other if other._rank() > self._rank() else self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"value": self.value, "timestamp": self.timestamp.to_dict(), "deleted": self.deleted}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LWWRegister:
        """Inverse of :meth:`to_dict`."""
        return cls(data["value"], HybridTimestamp.from_dict(data["timestamp"]), bool(data.get("deleted")))
