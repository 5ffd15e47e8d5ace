"""Early closing of a vote round: is the outcome already fixed, whatever the missing voters do?

A round may close before everyone voted when no completion can change its outcome. We try the
completions that matter for the protocols we ship (majority, supermajority, unanimity, weighted
plurality, BFT, and their leader tie-breaks): everyone missing abstains, or everyone missing votes for
the same candidate (each option, each choice already named, or a new free answer). These rules are
monotone, so a split of the missing votes can never do more for any choice than giving them all to
it; if every such completion gives the current outcome, the round is settled.

A leader tie-break is not monotone that way: giving every missing vote to one rival can create a tie the
leader settles for the current choice, while splitting them leaves no majority at all. So a tie-broken
protocol is settled only when its inner protocol is settled on a choice (the wrapper returns decided inner
outcomes unchanged); an outcome that rests on a tie-break waits for every voter (or the deadline).

Votes already cast are final for this purpose: a voter who later equivocates is flagged in the audit
trail, but a decision reached before that stands (the decision's log is the single, ordered observer).
"""

from __future__ import annotations

from collections.abc import Iterable

from services.consensus.protocols.ballot import Ballot
from services.consensus.protocols.leader import LeaderTieBreak
from services.consensus.protocols.vote import Vote
from services.consensus.protocols.voting_protocol import VotingProtocol

# Stands for "some answer nobody has given yet" when answers are free; cannot collide with a real one
# because real choices never start with a NUL character.
UNSEEN_ANSWER = "\x00unseen answer"


def is_settled(
    protocol: VotingProtocol,
    votes: Iterable[Vote],
    electorate: Iterable[str],
    options: Iterable[str] | None = None,
) -> bool:
    """Whether ``protocol``'s outcome on ``votes`` holds for every way the missing voters could vote."""
    votes = tuple(votes)
    members = tuple(sorted(set(electorate)))
    ballot = Ballot.collect(votes, members)
    missing = [member for member in members if member not in ballot.voted]
    if not missing:
        return True
    if isinstance(protocol, LeaderTieBreak):
        inner = protocol.inner
        return inner.decide(votes, members).decided and is_settled(inner, votes, members, options)
    current = protocol.decide(votes, members).choice
    candidates = {vote.choice for vote in ballot.votes.values()}
    candidates |= {UNSEEN_ANSWER} if options is None else set(options)
    round_number = votes[0].round if votes else 1
    for candidate in sorted(candidates):
        completion = tuple(Vote(voter, candidate, round=round_number) for voter in missing)
        if protocol.decide(votes + completion, members).choice != current:
            return False
    return True
