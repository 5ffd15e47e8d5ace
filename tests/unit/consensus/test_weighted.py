"""Weighted plurality and the Laplace-smoothed track records that feed it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from services.consensus.protocols import Vote, Weighted
from services.consensus.track_record import TrackRecord, weights_from_track_records
from tests.unit.consensus import oracle
from tests.unit.consensus.strategies import Round, rounds, weights_for


@given(rounds(), weights_for())
@settings(max_examples=60, deadline=None)
def test_weighted_plurality_matches_its_definition(round_: Round, weights: dict[str, float]) -> None:
    electorate, votes = round_
    outcome = Weighted(weights).decide(votes, electorate)
    assert outcome.choice == oracle.weighted_plurality(votes, electorate, weights)


def test_one_reliable_voter_outweighs_two_unreliable_ones() -> None:
    records = {"expert": TrackRecord(19, 20), "novice1": TrackRecord(1, 10), "novice2": TrackRecord(1, 10)}
    weights = weights_from_track_records(list(records), records)
    votes = [Vote("expert", "bug"), Vote("novice1", "fine"), Vote("novice2", "fine")]
    assert Weighted(weights).decide(votes, records).choice == "bug"


def test_a_weight_stamped_on_the_vote_takes_precedence_over_the_table() -> None:
    votes = [Vote("a", "x", weight=3.0), Vote("b", "y"), Vote("c", "y")]
    assert Weighted({"a": 1.0, "b": 1.0, "c": 1.0}).decide(votes, "abc").choice == "x"


def test_an_exact_weight_tie_is_no_decision() -> None:
    votes = [Vote("a", "x"), Vote("b", "y")]
    outcome = Weighted({"a": 0.1 + 0.2, "b": 0.1 + 0.2}).decide(votes, "ab")
    assert outcome.choice is None
    assert any("tie" in reason for reason in outcome.reasons)


def test_track_record_weight_is_laplace_smoothed() -> None:
    assert TrackRecord().weight == 1 / 2
    assert TrackRecord(1, 1).weight == 2 / 3
    assert TrackRecord(0, 1).weight == 1 / 3
    assert TrackRecord(8, 10).weight == 9 / 12


def test_recording_a_judged_call_updates_the_record() -> None:
    assert TrackRecord().record(correct=True).record(correct=False) == TrackRecord(1, 2)


def test_agents_without_a_record_weigh_one_half() -> None:
    assert weights_from_track_records(["a", "b"], {"a": TrackRecord(3, 3)}) == {"a": 0.8, "b": 0.5}


def test_a_record_cannot_have_more_correct_calls_than_calls() -> None:
    with pytest.raises(ValueError):
        TrackRecord(3, 2)


def test_track_record_round_trips() -> None:
    assert TrackRecord.from_dict(TrackRecord(4, 7).to_dict()) == TrackRecord(4, 7)
