"""Operators: the primitive task types an agent (or a human, for approvals) carries out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Tier = Literal["worker", "manager", "approval"]
TIERS: tuple[Tier, ...] = ("worker", "manager", "approval")


@dataclass(frozen=True)
class Operator:
    """A primitive task type, STRIPS-style.

    `tier` decides who answers and how long they get (see `TierTimeouts`): workers do operational work,
    managers take tactical decisions (review, planning), and `approval` operators are human gates.
    """

    name: str
    capability: str
    tier: Tier = "worker"
    preconditions: frozenset[str] = frozenset()
    """Facts that must hold before the task starts."""
    effects: frozenset[str] = frozenset()
    """Facts the task makes true."""
    removes: frozenset[str] = frozenset()
    """Facts the task makes false (applied after `effects`, so a fact in both ends up false)."""

    def apply(self, facts: frozenset[str]) -> frozenset[str]:
        """The facts after this operator ran in a state where `facts` held."""
        return (facts | self.effects) - self.removes

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, the same shape as an entry of `operators:` in a domain file."""
        data: dict[str, Any] = {"name": self.name, "capability": self.capability, "tier": self.tier}
        if self.preconditions:
            data["preconditions"] = sorted(self.preconditions)
        if self.effects:
            data["effects"] = sorted(self.effects)
        if self.removes:
            data["removes"] = sorted(self.removes)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Operator:
        """Inverse of `to_dict` (no validation: use the domain file loader for untrusted input)."""
        return cls(
            name=data["name"],
            capability=data["capability"],
            tier=data.get("tier", "worker"),
            preconditions=frozenset(data.get("preconditions", ())),
            effects=frozenset(data.get("effects", ())),
            removes=frozenset(data.get("removes", ())),
        )
