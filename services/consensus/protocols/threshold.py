"""Share rules: a choice wins when its share of the votes reaches a fraction (majority, supermajority,
unanimity are all this rule with different fractions).

``basis`` says what the share is a share of: ``"cast"`` = the valid votes cast this round (abstainers
do not count against anyone); ``"electorate"`` = the whole electorate (abstaining counts as no).
Shares are compared as exact fractions, so 2 of 3 meets 2/3 with no rounding surprises.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Literal

from services.consensus.protocols.ballot import Ballot
from services.consensus.protocols.outcome import Outcome
from services.consensus.protocols.vote import Vote

Basis = Literal["cast", "electorate"]
BASES: tuple[Basis, ...] = ("cast", "electorate")


def parse_fraction(value: Fraction | float | str) -> Fraction:
    """An exact fraction from ``Fraction``, a decimal float, or a string such as ``"2/3"``."""
    if isinstance(value, Fraction):
        return value
    # Through str a float means the decimal it prints as (0.75 -> 3/4), not its binary expansion.
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def _meets(share: Fraction, fraction: Fraction, strict: bool) -> bool:
    return share > fraction if strict else share >= fraction


def decide_by_share(
    name: str,
    votes: Iterable[Vote],
    electorate: Iterable[str],
    *,
    fraction: Fraction,
    strict: bool,
    basis: Basis,
) -> Outcome:
    """The choice whose share is ``> fraction`` (``strict``) or ``>= fraction``; None if no single one."""
    ballot = Ballot.collect(votes, electorate)
    counts = ballot.counts()
    total = len(ballot.votes) if basis == "cast" else len(ballot.electorate)
    reasons = list(ballot.reasons())
    relation = ">" if strict else ">="
    choice = None
    if not ballot.votes:
        reasons.append("no valid votes")
    else:
        winners = [c for c, n in counts.items() if _meets(Fraction(n, total), fraction, strict)]
        if len(winners) == 1:
            choice = winners[0]
            reasons.append(f"{choice} has {counts[choice]} of {total} {basis} votes ({relation} {fraction})")
        elif winners:
            reasons.append(f"several choices reach {relation} {fraction}: {', '.join(sorted(winners))}")
        else:
            best = max(counts.values())
            reasons.append(f"no choice has {relation} {fraction} of {total} {basis} votes (best: {best})")
    return Outcome(
        protocol=name,
        choice=choice,
        tally=dict(sorted(counts.items())),
        reasons=tuple(reasons),
        flagged=tuple(sorted(ballot.flagged)),
    )
