"""The result of applying a protocol to a round of votes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """What ``protocol`` decided: ``choice`` (None = no decision), the ``tally`` behind it, why
    (``reasons``), which voters were caught equivocating (``flagged``), and for tie-breaks the
    ``leader`` and the ``term`` it was elected in."""

    protocol: str
    choice: str | None
    tally: Mapping[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    flagged: tuple[str, ...] = ()
    term: int | None = None
    leader: str | None = None

    @property
    def decided(self) -> bool:
        """Whether a choice was reached."""
        return self.choice is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "protocol": self.protocol,
            "choice": self.choice,
            "tally": dict(self.tally),
            "reasons": list(self.reasons),
            "flagged": list(self.flagged),
            "term": self.term,
            "leader": self.leader,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        """Inverse of :meth:`to_dict`."""
        return cls(
            protocol=str(data["protocol"]),
            choice=data.get("choice"),
            tally=dict(data.get("tally", {})),
            reasons=tuple(data.get("reasons", ())),
            flagged=tuple(data.get("flagged", ())),
            term=data.get("term"),
            leader=data.get("leader"),
        )
