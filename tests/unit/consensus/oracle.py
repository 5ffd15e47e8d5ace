"""Independent, deliberately naive reference implementations of the voting rules.

They share no code with the protocols: each definition is written straight from its specification.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from fractions import Fraction

from services.consensus.protocols import Vote


def valid_choices(votes: Iterable[Vote], electorate: Iterable[str]) -> tuple[dict[str, str], set[str]]:
    """voter -> its single choice, and the voters who named several choices (excluded)."""
    members = set(electorate)
    named: dict[str, set[str]] = defaultdict(set)
    for vote in votes:
        if vote.voter in members:
            named[vote.voter].add(vote.choice)
    flagged = {voter for voter, choices in named.items() if len(choices) > 1}
    return {voter: choices.pop() for voter, choices in named.items() if len(choices) == 1}, flagged


def _count(valid: Mapping[str, str], choice: str) -> int:
    return sum(1 for c in valid.values() if c == choice)


def majority(votes: Iterable[Vote], electorate: list[str], basis: str = "cast") -> str | None:
    valid, _ = valid_choices(votes, electorate)
    total = len(valid) if basis == "cast" else len(set(electorate))
    winners = [c for c in set(valid.values()) if 2 * _count(valid, c) > total]
    return winners[0] if winners else None


def supermajority(votes: Iterable[Vote], electorate: list[str], fraction: Fraction, basis: str = "cast") -> str | None:
    valid, _ = valid_choices(votes, electorate)
    total = len(valid) if basis == "cast" else len(set(electorate))
    winners = [c for c in set(valid.values()) if _count(valid, c) * fraction.denominator >= fraction.numerator * total]
    return winners[0] if len(winners) == 1 and total > 0 else None


def unanimity(votes: Iterable[Vote], electorate: list[str], basis: str = "electorate") -> str | None:
    valid, _ = valid_choices(votes, electorate)
    if basis == "electorate" and set(valid) != set(electorate):
        return None
    choices = set(valid.values())
    return choices.pop() if len(choices) == 1 else None


def weighted_plurality(votes: Iterable[Vote], electorate: list[str], weights: Mapping[str, float]) -> str | None:
    valid, _ = valid_choices(votes, electorate)
    totals: dict[str, Fraction] = defaultdict(Fraction)
    for voter, choice in valid.items():
        totals[choice] += Fraction(weights[voter])
    best = max(totals.values(), default=Fraction(0))
    leaders = [c for c, w in totals.items() if w == best]
    return leaders[0] if best > 0 and len(leaders) == 1 else None


def bft_quorum(n: int) -> int:
    """Smallest quorum whose pairwise intersections exceed f = floor((n - 1) / 3) voters."""
    f = (n - 1) // 3
    return next(q for q in range(1, n + 1) if 2 * q - n > f)


def bft(votes: Iterable[Vote], electorate: list[str]) -> str | None:
    valid, _ = valid_choices(votes, electorate)
    quorum = bft_quorum(len(set(electorate)))
    winners = [c for c in set(valid.values()) if _count(valid, c) >= quorum]
    return winners[0] if winners else None
