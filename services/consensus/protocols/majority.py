"""Simple majority: a choice wins with more than half of the votes (of those cast, by default)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from services.consensus.protocols.outcome import Outcome
from services.consensus.protocols.threshold import BASES, Basis, decide_by_share
from services.consensus.protocols.vote import Vote


@dataclass(frozen=True)
class Majority:
    """Strictly more than 50% of the ``basis`` (default: valid votes cast); otherwise no decision."""

    basis: Basis = "cast"

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise ValueError(f"unknown basis {self.basis!r}")

    @property
    def name(self) -> str:
        """Protocol name."""
        return "majority"

    def decide(self, votes: Iterable[Vote], electorate: Iterable[str]) -> Outcome:
        """Count heads; weights are ignored."""
        return decide_by_share(self.name, votes, electorate, fraction=Fraction(1, 2), strict=True, basis=self.basis)
