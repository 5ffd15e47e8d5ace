"""Protocol specifications: a protocol and its settings as plain data, built into a protocol on demand.

Policies and decisions store specs rather than protocol objects, so they serialise to JSON and a
replay rebuilds exactly the protocol that was in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from services.consensus.protocols.bft import BftCommit
from services.consensus.protocols.leader import LeaderTieBreak
from services.consensus.protocols.majority import Majority
from services.consensus.protocols.supermajority import DEFAULT_FRACTION, Supermajority
from services.consensus.protocols.threshold import Basis, parse_fraction
from services.consensus.protocols.unanimity import Unanimity
from services.consensus.protocols.voting_protocol import VotingProtocol
from services.consensus.protocols.weighted import Weighted

ProtocolKind = Literal["majority", "supermajority", "unanimity", "weighted", "bft"]
KINDS: tuple[ProtocolKind, ...] = ("majority", "supermajority", "unanimity", "weighted", "bft")
# A leader may settle a tie in a count, but not override unanimity or a Byzantine quorum.
TIE_BREAKABLE: frozenset[str] = frozenset({"majority", "supermajority", "weighted"})


@dataclass(frozen=True)
class ProtocolSpec:
    """``kind`` plus its settings: ``fraction`` (supermajority, default 2/3), ``basis`` (share rules;
    None = the protocol's default), ``faults`` (bft; None = the most the electorate tolerates),
    ``tie_break`` (settle ties with a leader elected from the decision id and term)."""

    kind: ProtocolKind
    fraction: Fraction | None = None
    basis: Basis | None = None
    faults: int | None = None
    tie_break: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown protocol {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.fraction is not None:
            object.__setattr__(self, "fraction", parse_fraction(self.fraction))
        if self.tie_break and self.kind not in TIE_BREAKABLE:
            raise ValueError(f"{self.kind} cannot be tie-broken by a leader")
        self.build(decision_id="validation", term=0, weights={})

    def build(self, *, decision_id: str, term: int, weights: Mapping[str, float]) -> VotingProtocol:
        """The protocol, with the weights and the leader context of one decision."""
        basis: dict[str, Any] = {} if self.basis is None else {"basis": self.basis}
        protocol: VotingProtocol
        if self.kind == "majority":
            protocol = Majority(**basis)
        elif self.kind == "supermajority":
            protocol = Supermajority(self.fraction or DEFAULT_FRACTION, **basis)
        elif self.kind == "unanimity":
            protocol = Unanimity(**basis)
        elif self.kind == "weighted":
            protocol = Weighted(weights)
        else:
            protocol = BftCommit(self.faults)
        return LeaderTieBreak(protocol, decision_id, term) if self.tie_break else protocol

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (fractions as ``"n/d"`` strings)."""
        return {
            "kind": self.kind,
            "fraction": None if self.fraction is None else str(self.fraction),
            "basis": self.basis,
            "faults": self.faults,
            "tie_break": self.tie_break,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProtocolSpec:
        """Inverse of :meth:`to_dict`; missing keys take their defaults."""
        fraction = data.get("fraction")
        return cls(
            kind=data["kind"],
            fraction=None if fraction is None else parse_fraction(fraction),
            basis=data.get("basis"),
            faults=data.get("faults"),
            tie_break=bool(data.get("tie_break", False)),
        )
