"""Round cleaning shared by every protocol: duplicates, equivocation, outsiders."""

from __future__ import annotations

import pytest

from services.consensus.protocols import Ballot, Majority, Vote


def test_a_repeated_vote_counts_once() -> None:
    ballot = Ballot.collect([Vote("a", "x"), Vote("a", "x"), Vote("b", "y")], ["a", "b"])
    assert ballot.counts() == {"x": 1, "y": 1}
    assert not ballot.flagged


def test_a_voter_naming_two_choices_is_flagged_and_all_its_votes_are_dropped() -> None:
    ballot = Ballot.collect([Vote("a", "x"), Vote("b", "y"), Vote("a", "y")], ["a", "b"])
    assert ballot.flagged == {"a"}
    assert ballot.counts() == {"y": 1}
    assert "a" in ballot.voted


def test_votes_from_outside_the_electorate_are_ignored_and_reported() -> None:
    outcome = Majority().decide([Vote("mallory", "x"), Vote("a", "y")], ["a", "b"])
    assert outcome.tally == {"y": 1}
    assert any("mallory" in reason for reason in outcome.reasons)


def test_an_equivocator_is_reported_in_the_outcome() -> None:
    outcome = Majority().decide([Vote("a", "x"), Vote("a", "y"), Vote("b", "y")], ["a", "b"])
    assert outcome.flagged == ("a",)
    assert any("a equivocated" in reason for reason in outcome.reasons)


def test_votes_from_different_rounds_cannot_be_counted_together() -> None:
    with pytest.raises(ValueError):
        Ballot.collect([Vote("a", "x", round=1), Vote("b", "x", round=2)], ["a", "b"])


def test_an_empty_electorate_is_refused() -> None:
    with pytest.raises(ValueError):
        Ballot.collect([], [])
