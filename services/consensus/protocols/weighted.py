"""Weighted plurality: each voter counts for its weight; the heaviest choice wins.

Weights normally come from track records (:mod:`services.consensus.track_record`). A vote's own
``weight`` (stamped by the consensus service when it accepted the vote) takes precedence over the
table, the table over ``default_weight``. Sums are exact fractions of the given floats, so a tie is a
real tie and not a rounding artefact; a tie yields no decision (wrap in a leader tie-break to settle it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from services.consensus.protocols.ballot import Ballot
from services.consensus.protocols.outcome import Outcome
from services.consensus.protocols.vote import Vote


@dataclass(frozen=True)
class Weighted:
    """Weighted plurality over ``weights`` (voter -> weight, non-negative)."""

    weights: Mapping[str, float] = field(default_factory=dict)
    default_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.default_weight < 0 or any(w < 0 for w in self.weights.values()):
            raise ValueError("weights must be non-negative")
        object.__setattr__(self, "weights", dict(sorted(self.weights.items())))

    @property
    def name(self) -> str:
        """Protocol name."""
        return "weighted"

    def weight_of(self, vote: Vote) -> float:
        """The weight ``vote`` counts with."""
        if vote.weight is not None:
            return vote.weight
        return self.weights.get(vote.voter, self.default_weight)

    def decide(self, votes: Iterable[Vote], electorate: Iterable[str]) -> Outcome:
        """The choice with the largest total weight, if it is the only one."""
        ballot = Ballot.collect(votes, electorate)
        totals: dict[str, Fraction] = defaultdict(Fraction)
        for vote in ballot.votes.values():
            totals[vote.choice] += Fraction(self.weight_of(vote))
        reasons = list(ballot.reasons())
        choice = None
        heaviest = max(totals.values(), default=Fraction(0))
        leaders = sorted(c for c, w in totals.items() if w == heaviest)
        if heaviest == 0:
            reasons.append("no weighted votes")
        elif len(leaders) > 1:
            reasons.append(f"tie at weight {float(heaviest):.4g} between {', '.join(leaders)}")
        else:
            choice = leaders[0]
            reasons.append(
                f"{choice} has the largest weight, {float(heaviest):.4g} of {float(sum(totals.values())):.4g}"
            )
        return Outcome(
            protocol=self.name,
            choice=choice,
            tally={c: float(w) for c, w in sorted(totals.items())},
            reasons=tuple(reasons),
            flagged=tuple(sorted(ballot.flagged)),
        )
