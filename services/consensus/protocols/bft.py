"""Byzantine fault tolerant commit: with n = 3f + 1 voters, commit a choice once 2f + 1 agree.

Up to ``f`` voters may lie arbitrarily. Any two quorums of 2f + 1 overlap in at least f + 1 voters, so
at least one honest voter is in both and two different choices can never both commit. For electorate
sizes that are not 3f + 1 the quorum generalises to the smallest q with 2q - n > f, i.e.
q = floor((n + f) / 2) + 1, which is 2f + 1 when n = 3f + 1. (Raft and other crash-tolerant
protocols give no such guarantee: they assume voters fail by stopping, not by lying.)

Equivocation (different choices from one voter in a round) is proof of a Byzantine voter: it is flagged
and all its votes are dropped (see :mod:`services.consensus.protocols.ballot`). Weights are ignored:
Byzantine safety is about counting distinct voters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.consensus.protocols.ballot import Ballot
from services.consensus.protocols.outcome import Outcome
from services.consensus.protocols.vote import Vote


def tolerated_faults(electorate_size: int) -> int:
    """The largest f with 3f + 1 <= n."""
    return max(0, (electorate_size - 1) // 3)


def commit_quorum(electorate_size: int, faults: int) -> int:
    """Votes needed to commit safely with ``faults`` Byzantine voters among ``electorate_size``."""
    if electorate_size < 3 * faults + 1:
        raise ValueError(f"{electorate_size} voters cannot tolerate {faults} Byzantine faults (need 3f+1)")
    return (electorate_size + faults) // 2 + 1


@dataclass(frozen=True)
class BftCommit:
    """Commit when a quorum agrees; ``faults`` defaults to the most the electorate can tolerate."""

    faults: int | None = None

    def __post_init__(self) -> None:
        if self.faults is not None and self.faults < 0:
            raise ValueError("faults must be non-negative")

    @property
    def name(self) -> str:
        """Protocol name."""
        return "bft"

    def decide(self, votes: Iterable[Vote], electorate: Iterable[str]) -> Outcome:
        """The choice backed by a commit quorum of distinct, non-equivocating voters, if any."""
        ballot = Ballot.collect(votes, electorate)
        n = len(ballot.electorate)
        f = tolerated_faults(n) if self.faults is None else self.faults
        quorum = commit_quorum(n, f)
        counts = ballot.counts()
        reasons = list(ballot.reasons())
        committed = [c for c, k in counts.items() if k >= quorum]
        choice = committed[0] if committed else None
        if choice is not None:
            reasons.append(f"{choice} committed by {counts[choice]} of {n} voters (quorum {quorum}, f={f})")
        else:
            best = max(counts.values(), default=0)
            reasons.append(f"no choice reached the commit quorum {quorum} of {n} (f={f}); best {best}")
        return Outcome(
            protocol=self.name,
            choice=choice,
            tally=dict(sorted(counts.items())),
            reasons=tuple(reasons),
            flagged=tuple(sorted(ballot.flagged)),
        )
