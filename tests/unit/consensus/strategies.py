"""Hypothesis strategies: rounds of votes with abstentions, duplicates, equivocation and outsiders."""

from __future__ import annotations

from hypothesis import strategies as st

from services.consensus.protocols import Vote

VOTERS = ("a", "b", "c", "d", "e", "f", "g")
CHOICES = ("x", "y", "z")
OUTSIDERS = ("mallory", "oscar")
WEIGHTS = (0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0)

Round = tuple[list[str], list[Vote]]


def voter_votes(voter: str, behaviour: str, choice: str, other: str) -> list[Vote]:
    """The votes one voter casts given how it behaves."""
    if behaviour == "abstain":
        return []
    if behaviour == "duplicate":
        return [Vote(voter, choice, rationale="first"), Vote(voter, choice, rationale="again")]
    if behaviour == "equivocate":
        return [Vote(voter, choice), Vote(voter, other)] if other != choice else [Vote(voter, choice)]
    return [Vote(voter, choice)]


@st.composite
def rounds(draw: st.DrawFn, choices: tuple[str, ...] = CHOICES, byzantine: bool = True) -> Round:
    """An electorate and a shuffled round of votes cast for it (and by a few outsiders)."""
    electorate = draw(st.lists(st.sampled_from(VOTERS), min_size=1, unique=True))
    behaviours = ["abstain", "vote", "vote", "vote", "duplicate"] + (["equivocate"] if byzantine else [])
    votes: list[Vote] = []
    for voter in electorate:
        behaviour = draw(st.sampled_from(behaviours))
        votes += voter_votes(voter, behaviour, draw(st.sampled_from(choices)), draw(st.sampled_from(choices)))
    if byzantine:
        votes += [Vote(o, draw(st.sampled_from(choices))) for o in draw(st.lists(st.sampled_from(OUTSIDERS)))]
    return electorate, draw(st.permutations(votes))


def weights_for(voters: tuple[str, ...] = VOTERS) -> st.SearchStrategy[dict[str, float]]:
    """A weight per voter."""
    return st.fixed_dictionaries({voter: st.sampled_from(WEIGHTS) for voter in voters})
