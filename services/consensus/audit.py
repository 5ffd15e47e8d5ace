"""Audit trail entries: who did what in a decision, when, and under which round and term."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AuditEntry:
    """One fact in a decision's history. ``kind`` names it (``vote``, ``equivocation``,
    ``round_closed``, ``contribution``, ``reached`` ...); ``details`` are plain JSON values."""

    at: float
    kind: str
    round: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def same_fact(self, other: AuditEntry) -> bool:
        """Whether both entries record the same fact, whenever they were written."""
        return (self.kind, self.round, self.details) == (other.kind, other.round, other.details)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"at": self.at, "kind": self.kind, "round": self.round, "details": dict(self.details)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEntry:
        """Inverse of :meth:`to_dict`."""
        return cls(float(data["at"]), str(data["kind"]), data.get("round"), dict(data.get("details", {})))
