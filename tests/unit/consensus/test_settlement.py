"""Early closing: a round settled on partial votes has the outcome every completion would give."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.consensus.protocols import (
    BftCommit,
    LeaderTieBreak,
    Majority,
    Supermajority,
    Unanimity,
    Vote,
    VotingProtocol,
    Weighted,
)
from services.consensus.settlement import is_settled
from tests.unit.consensus.strategies import CHOICES, Round, rounds

PROTOCOLS: list[VotingProtocol] = [
    Majority(),
    Majority("electorate"),
    Supermajority(),
    Unanimity(),
    BftCommit(),
    LeaderTieBreak(Majority(), "dec"),
    LeaderTieBreak(Weighted({"a": 0.5, "b": 1.0, "c": 0.25, "d": 0.0, "e": 0.75, "f": 1 / 3, "g": 2 / 3}), "dec"),
]


@given(rounds(byzantine=False), st.sampled_from(PROTOCOLS), st.data())
@settings(max_examples=60, deadline=None)
def test_a_settled_outcome_survives_any_way_the_missing_voters_vote(
    round_: Round, protocol: VotingProtocol, data: st.DataObject
) -> None:
    electorate, votes = round_
    if not is_settled(protocol, votes, electorate):
        return
    voted = {v.voter for v in votes}
    missing = [m for m in electorate if m not in voted]
    completion = [
        Vote(m, choice)
        for m in missing
        if (choice := data.draw(st.sampled_from([None, *CHOICES, "new answer"]))) is not None
    ]
    assert protocol.decide(votes + completion, electorate).choice == protocol.decide(votes, electorate).choice


def test_a_majority_of_the_electorate_settles_a_majority_vote_early() -> None:
    votes = [Vote("a", "x"), Vote("b", "x"), Vote("c", "x")]
    assert is_settled(Majority(), votes, "abcde")


def test_a_lead_that_the_missing_voters_could_overturn_is_not_settled() -> None:
    votes = [Vote("a", "x"), Vote("b", "x"), Vote("c", "y")]
    assert not is_settled(Majority(), votes, "abcde")


def test_a_broken_unanimity_is_settled_as_no_decision() -> None:
    votes = [Vote("a", "x"), Vote("b", "y")]
    assert is_settled(Unanimity(), votes, "abcde")
    assert Unanimity().decide(votes, "abcde").choice is None


def test_a_bft_quorum_is_settled_without_waiting_for_the_rest() -> None:
    votes = [Vote("a", "x"), Vote("b", "x"), Vote("c", "x")]
    assert is_settled(BftCommit(), votes, "abcd")


def test_a_lead_that_rests_on_a_tie_break_is_not_settled_while_voters_are_missing() -> None:
    # Two missing votes for one rival make a tie the leader might break for z; split, they leave no majority.
    votes = [Vote("a", "z"), Vote("d", "z")]
    assert not is_settled(LeaderTieBreak(Majority(), "dec"), votes, ["a", "b", "c", "d"])
