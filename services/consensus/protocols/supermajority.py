"""Supermajority: a choice wins with at least a configured fraction (default 2/3) of the votes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from services.consensus.protocols.outcome import Outcome
from services.consensus.protocols.threshold import BASES, Basis, decide_by_share, parse_fraction
from services.consensus.protocols.vote import Vote

DEFAULT_FRACTION = Fraction(2, 3)


@dataclass(frozen=True)
class Supermajority:
    """At least ``fraction`` (inclusive, between 1/2 and 1) of the ``basis`` must pick the same choice."""

    fraction: Fraction = DEFAULT_FRACTION
    basis: Basis = "cast"

    def __post_init__(self) -> None:
        object.__setattr__(self, "fraction", parse_fraction(self.fraction))
        if not Fraction(1, 2) <= self.fraction <= 1:
            raise ValueError(f"a supermajority fraction must be in [1/2, 1], got {self.fraction}")
        if self.basis not in BASES:
            raise ValueError(f"unknown basis {self.basis!r}")

    @property
    def name(self) -> str:
        """Protocol name."""
        return "supermajority"

    def decide(self, votes: Iterable[Vote], electorate: Iterable[str]) -> Outcome:
        """Count heads; weights are ignored."""
        return decide_by_share(self.name, votes, electorate, fraction=self.fraction, strict=False, basis=self.basis)
