"""Majority, supermajority and unanimity agree with their definitions on generated rounds."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from services.consensus.protocols import Majority, Supermajority, Unanimity, Vote
from tests.unit.consensus import oracle
from tests.unit.consensus.strategies import Round, rounds

bases = st.sampled_from(["cast", "electorate"])
fractions = st.sampled_from([Fraction(1, 2), Fraction(3, 5), Fraction(2, 3), Fraction(3, 4), Fraction(1)])


@given(rounds(), bases)
@settings(max_examples=60, deadline=None)
def test_majority_matches_its_definition(round_: Round, basis: str) -> None:
    electorate, votes = round_
    outcome = Majority(basis).decide(votes, electorate)  # type: ignore[arg-type]
    assert outcome.choice == oracle.majority(votes, electorate, basis)
    assert set(outcome.flagged) == oracle.valid_choices(votes, electorate)[1]


@given(rounds(), fractions, bases)
@settings(max_examples=60, deadline=None)
def test_supermajority_matches_its_definition(round_: Round, fraction: Fraction, basis: str) -> None:
    electorate, votes = round_
    outcome = Supermajority(fraction, basis).decide(votes, electorate)  # type: ignore[arg-type]
    assert outcome.choice == oracle.supermajority(votes, electorate, fraction, basis)


@given(rounds(), bases)
@settings(max_examples=60, deadline=None)
def test_unanimity_matches_its_definition(round_: Round, basis: str) -> None:
    electorate, votes = round_
    outcome = Unanimity(basis).decide(votes, electorate)  # type: ignore[arg-type]
    assert outcome.choice == oracle.unanimity(votes, electorate, basis)


def test_majority_needs_more_than_half() -> None:
    votes = [Vote("a", "x"), Vote("b", "x"), Vote("c", "y"), Vote("d", "y")]
    assert Majority().decide(votes, "abcd").choice is None
    assert Majority().decide([*votes[:3], Vote("d", "x")], "abcd").choice == "x"


def test_majority_of_the_electorate_counts_abstentions_against() -> None:
    votes = [Vote("a", "x"), Vote("b", "x")]
    assert Majority("cast").decide(votes, "abcde").choice == "x"
    assert Majority("electorate").decide(votes, "abcde").choice is None


def test_supermajority_is_inclusive_at_exactly_two_thirds() -> None:
    votes = [Vote("a", "x"), Vote("b", "x"), Vote("c", "y")]
    assert Supermajority().decide(votes, "abc").choice == "x"


def test_supermajority_fraction_is_configurable() -> None:
    votes = [Vote("a", "x"), Vote("b", "x"), Vote("c", "y")]
    assert Supermajority(Fraction(3, 4)).decide(votes, "abc").choice is None
    assert Supermajority(0.6).decide(votes, "abc").choice == "x"


def test_unanimity_of_the_electorate_is_blocked_by_one_abstention() -> None:
    votes = [Vote("a", "x"), Vote("b", "x")]
    assert Unanimity().decide(votes, "abc").choice is None
    assert Unanimity("cast").decide(votes, "abc").choice == "x"


def test_no_votes_means_no_decision() -> None:
    outcome = Majority().decide([], "abc")
    assert outcome.choice is None
    assert "no valid votes" in outcome.reasons
