"""Unanimity: every member of the electorate (by default) voted for the same choice."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from services.consensus.protocols.outcome import Outcome
from services.consensus.protocols.threshold import BASES, Basis, decide_by_share
from services.consensus.protocols.vote import Vote


@dataclass(frozen=True)
class Unanimity:
    """All of the ``basis`` agree. The default basis is the whole electorate, so an abstention or an
    equivocation (whose votes are dropped) blocks the decision; ``basis="cast"`` asks only that no
    valid vote dissents."""

    basis: Basis = "electorate"

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise ValueError(f"unknown basis {self.basis!r}")

    @property
    def name(self) -> str:
        """Protocol name."""
        return "unanimity"

    def decide(self, votes: Iterable[Vote], electorate: Iterable[str]) -> Outcome:
        """Count heads; weights are ignored."""
        return decide_by_share(self.name, votes, electorate, fraction=Fraction(1), strict=False, basis=self.basis)
