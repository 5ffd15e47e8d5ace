"""Tie-breaks by a leader elected deterministically from the log.

The leader of ``term`` is ``sorted(electorate)[(h + term) mod n]`` where ``h`` is a SHA-256 hash of the
decision id. Hashing spreads leadership across decisions; adding the term (rather than hashing it in)
rotates through every member in n consecutive terms, the way PBFT rotates its primary by view number,
so a tie-break always finds a leader within n terms. Everything comes from the decision id, the term
and the electorate, which are in the log: a replay elects the same leaders.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from services.consensus.protocols.ballot import Ballot
from services.consensus.protocols.outcome import Outcome
from services.consensus.protocols.vote import Vote
from services.consensus.protocols.voting_protocol import VotingProtocol


def elect_leader(decision_id: str, term: int, electorate: Iterable[str]) -> str:
    """The leader of ``term`` for ``decision_id``."""
    members = sorted(set(electorate))
    if not members:
        raise ValueError("cannot elect a leader from an empty electorate")
    seed = int.from_bytes(hashlib.sha256(decision_id.encode()).digest()[:8], "big")
    return members[(seed + term) % len(members)]


@dataclass(frozen=True)
class LeaderTieBreak:
    """Run ``inner``; if it ends in a tie at the top of its tally, the leader's vote picks among the tied.

    Starting at ``term``, the first leader who voted (validly) for one of the tied choices decides; the
    outcome records that leader and its term. Any other undecided outcome is returned unchanged.
    """

    inner: VotingProtocol
    decision_id: str
    term: int = 0

    @property
    def name(self) -> str:
        """Protocol name: the inner protocol's, marked as leader-tie-broken."""
        return f"{self.inner.name}+leader"

    def decide(self, votes: Iterable[Vote], electorate: Iterable[str]) -> Outcome:
        """The inner outcome, with ties settled by the leader."""
        votes = tuple(votes)
        members = tuple(electorate)
        outcome = replace(self.inner.decide(votes, members), protocol=self.name, term=self.term)
        top = max(outcome.tally.values(), default=0)
        tied = sorted(choice for choice, score in outcome.tally.items() if score == top)
        if outcome.decided or top <= 0 or len(tied) < 2:
            return outcome
        ballot = Ballot.collect(votes, members)
        for term in range(self.term, self.term + len(ballot.electorate)):
            leader = elect_leader(self.decision_id, term, ballot.electorate)
            vote = ballot.votes.get(leader)
            if vote is not None and vote.choice in tied:
                reason = f"tie between {', '.join(tied)}: leader {leader} (term {term}) voted {vote.choice}"
                return replace(
                    outcome, choice=vote.choice, term=term, leader=leader, reasons=(*outcome.reasons, reason)
                )
        return replace(outcome, reasons=(*outcome.reasons, "tie, and no leader voted for a tied choice"))
