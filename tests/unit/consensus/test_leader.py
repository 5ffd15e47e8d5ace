"""Leader tie-breaks: deterministic leaders from the log, recorded term, leader's vote settles ties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.consensus.protocols import LeaderTieBreak, Majority, ProtocolSpec, Vote, Weighted, elect_leader
from tests.unit.consensus.strategies import VOTERS, Round, rounds

electorates = st.lists(st.sampled_from(VOTERS), min_size=1, unique=True)
decision_ids = st.text(min_size=1, max_size=8)


@given(decision_ids, st.integers(0, 100), electorates, st.randoms())
@settings(max_examples=50, deadline=None)
def test_the_leader_depends_on_decision_and_term_only_not_on_electorate_order(
    decision_id: str, term: int, electorate: list[str], shuffler: object
) -> None:
    shuffled = list(electorate)
    shuffler.shuffle(shuffled)  # type: ignore[attr-defined]
    leader = elect_leader(decision_id, term, electorate)
    assert leader in electorate
    assert elect_leader(decision_id, term, shuffled) == leader


@given(decision_ids, st.integers(0, 100), electorates)
@settings(max_examples=50, deadline=None)
def test_consecutive_terms_rotate_through_every_member(decision_id: str, start: int, electorate: list[str]) -> None:
    leaders = {elect_leader(decision_id, start + k, electorate) for k in range(len(electorate))}
    assert leaders == set(electorate)


def test_a_tie_is_settled_by_the_leaders_vote_and_the_term_is_recorded() -> None:
    votes = [Vote("a", "x"), Vote("b", "x"), Vote("c", "y"), Vote("d", "y")]
    leader = elect_leader("dec-1", 0, "abcd")
    outcome = LeaderTieBreak(Majority(), "dec-1").decide(votes, "abcd")
    assert outcome.leader == leader
    assert outcome.term == 0
    assert outcome.choice == next(v.choice for v in votes if v.voter == leader)
    assert outcome.protocol == "majority+leader"


def test_a_leader_that_did_not_vote_for_a_tied_choice_hands_over_to_the_next_term() -> None:
    electorate = "abcde"
    silent = elect_leader("dec-2", 0, electorate)
    voters = [v for v in electorate if v != silent]
    votes = [Vote(voters[0], "x"), Vote(voters[1], "x"), Vote(voters[2], "y"), Vote(voters[3], "y")]
    outcome = LeaderTieBreak(Majority(), "dec-2").decide(votes, electorate)
    assert outcome.term == 1
    assert outcome.leader == elect_leader("dec-2", 1, electorate)


def test_without_a_tie_the_inner_outcome_stands() -> None:
    votes = [Vote("a", "x"), Vote("b", "x"), Vote("c", "y")]
    outcome = LeaderTieBreak(Majority(), "dec-3").decide(votes, "abc")
    assert outcome.choice == "x"
    assert outcome.leader is None


@given(rounds(), decision_ids, st.integers(0, 5))
@settings(max_examples=60, deadline=None)
def test_a_broken_tie_always_picks_a_tied_choice_voted_by_the_first_supporting_leader(
    round_: Round, decision_id: str, term: int
) -> None:
    electorate, votes = round_
    plain = Weighted().decide(votes, electorate)
    outcome = LeaderTieBreak(Weighted(), decision_id, term).decide(votes, electorate)
    if plain.decided or outcome.leader is None:
        assert outcome.choice == plain.choice
        return
    top = max(plain.tally.values())
    tied = {c for c, w in plain.tally.items() if w == top}
    assert outcome.choice in tied
    assert outcome.term is not None and outcome.term >= term
    assert outcome.leader == elect_leader(decision_id, outcome.term, electorate)
    assert Vote(outcome.leader, outcome.choice) in [Vote(v.voter, v.choice) for v in votes]


@pytest.mark.parametrize("kind", ["bft", "unanimity"])
def test_safety_critical_protocols_refuse_a_leader_tie_break(kind: str) -> None:
    with pytest.raises(ValueError):
        ProtocolSpec(kind, tie_break=True)  # type: ignore[arg-type]
