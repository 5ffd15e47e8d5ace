"""Cleaning a round of votes: one vote per voter, electorate only, equivocators out.

Every protocol counts a :class:`Ballot`, never raw votes, so the same rules hold everywhere:

* a vote repeated with the same choice is a duplicate (redelivery) and counts once;
* a voter who voted for *different* choices in the round equivocated: it is flagged and all its votes
  in that round are dropped (a Byzantine voter cannot have it both ways);
* votes from outside the electorate are ignored, and the outcome says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.consensus.protocols.vote import Vote


@dataclass(frozen=True)
class Ballot:
    """The countable votes of one round."""

    electorate: tuple[str, ...]
    votes: Mapping[str, Vote]
    flagged: frozenset[str]
    outsiders: frozenset[str]
    voted: frozenset[str]

    @classmethod
    def collect(cls, votes: Iterable[Vote], electorate: Iterable[str]) -> Ballot:
        """Clean ``votes`` (all from one round) against ``electorate``."""
        members = frozenset(electorate)
        if not members:
            raise ValueError("the electorate is empty")
        first: dict[str, Vote] = {}
        flagged: set[str] = set()
        outsiders: set[str] = set()
        rounds: set[int] = set()
        for vote in votes:
            rounds.add(vote.round)
            if vote.voter not in members:
                outsiders.add(vote.voter)
            elif vote.voter not in first:
                first[vote.voter] = vote
            elif first[vote.voter].choice != vote.choice:
                flagged.add(vote.voter)
        if len(rounds) > 1:
            raise ValueError(f"votes from several rounds: {sorted(rounds)}")
        return cls(
            electorate=tuple(sorted(members)),
            votes={voter: vote for voter, vote in sorted(first.items()) if voter not in flagged},
            flagged=frozenset(flagged),
            outsiders=frozenset(outsiders),
            voted=frozenset(first),
        )

    def counts(self) -> Counter[str]:
        """Number of valid votes per choice."""
        return Counter(vote.choice for vote in self.votes.values())

    def reasons(self) -> tuple[str, ...]:
        """Why some votes were not counted."""
        reasons = [
            f"{voter} equivocated (voted for different choices in one round); its votes were dropped"
            for voter in sorted(self.flagged)
        ]
        if self.outsiders:
            reasons.append(f"ignored votes from outside the electorate: {', '.join(sorted(self.outsiders))}")
        return tuple(reasons)
