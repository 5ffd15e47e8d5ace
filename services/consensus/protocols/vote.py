"""A vote: one voter's choice in one round, with the weight and rationale kept for the audit trail."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Vote:
    """``voter`` chose ``choice`` in ``round`` (under leader ``term``).

    ``weight`` is set by the consensus service, never trusted from the voter: the decision stamps each
    accepted vote with the weight its track record earned. Protocols that count heads ignore it.
    """

    voter: str
    choice: str
    weight: float | None = None
    rationale: str = ""
    round: int = 1
    term: int = 0

    def __post_init__(self) -> None:
        if self.weight is not None and not (math.isfinite(self.weight) and self.weight >= 0):
            raise ValueError(f"vote weight must be a finite non-negative number, got {self.weight}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "voter": self.voter,
            "choice": self.choice,
            "weight": self.weight,
            "rationale": self.rationale,
            "round": self.round,
            "term": self.term,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vote:
        """Inverse of :meth:`to_dict`."""
        weight = data.get("weight")
        return cls(
            voter=str(data["voter"]),
            choice=str(data["choice"]),
            weight=None if weight is None else float(weight),
            rationale=str(data.get("rationale", "")),
            round=int(data.get("round", 1)),
            term=int(data.get("term", 0)),
        )
