"""BFT commit: 2f+1 of 3f+1, safe against f Byzantine voters whatever they send."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.consensus.protocols import BftCommit, Vote, commit_quorum
from tests.unit.consensus import oracle
from tests.unit.consensus.strategies import CHOICES, Round, rounds


@given(rounds())
@settings(max_examples=60, deadline=None)
def test_bft_commit_matches_its_definition(round_: Round) -> None:
    electorate, votes = round_
    assert BftCommit().decide(votes, electorate).choice == oracle.bft(votes, electorate)


@pytest.mark.parametrize(("n", "quorum"), [(1, 1), (4, 3), (7, 5), (10, 7)])
def test_the_commit_quorum_of_3f_plus_1_voters_is_2f_plus_1(n: int, quorum: int) -> None:
    assert commit_quorum(n, (n - 1) // 3) == quorum


def test_too_few_voters_for_the_requested_faults_is_refused() -> None:
    with pytest.raises(ValueError):
        BftCommit(faults=2).decide([Vote("a", "x")], "abcde")


def test_commits_when_2f_plus_1_agree() -> None:
    votes = [Vote("a", "x"), Vote("b", "x"), Vote("c", "x"), Vote("d", "y")]
    outcome = BftCommit().decide(votes, "abcd")
    assert outcome.choice == "x"
    assert outcome.tally == {"x": 3, "y": 1}


def test_does_not_commit_with_only_2f_agreeing() -> None:
    votes = [Vote("a", "x"), Vote("b", "x"), Vote("c", "y")]
    assert BftCommit().decide(votes, "abcd").choice is None


def test_an_equivocating_voter_cannot_complete_a_quorum() -> None:
    votes = [Vote("a", "x"), Vote("b", "x"), Vote("d", "x"), Vote("d", "y")]
    outcome = BftCommit().decide(votes, "abcd")
    assert outcome.choice is None
    assert outcome.flagged == ("d",)


@st.composite
def byzantine_rounds(draw: st.DrawFn) -> tuple[list[str], list[str], list[Vote]]:
    """3f+1 voters; the 2f+1 honest ones agree on x, the f Byzantine ones send anything."""
    f = draw(st.integers(min_value=1, max_value=3))
    electorate = [f"v{i}" for i in range(3 * f + 1)]
    byzantine = draw(st.lists(st.sampled_from(electorate), min_size=f, max_size=f, unique=True))
    honest = [v for v in electorate if v not in byzantine]
    lies = draw(st.lists(st.tuples(st.sampled_from(byzantine), st.sampled_from([*CHOICES, "evil"])), max_size=4 * f))
    votes = [Vote(v, "x") for v in honest] + [Vote(v, choice) for v, choice in lies]
    return electorate, byzantine, draw(st.permutations(votes))


@given(byzantine_rounds())
@settings(max_examples=60, deadline=None)
def test_f_byzantine_voters_cannot_change_the_decision_of_the_honest_quorum(
    scenario: tuple[list[str], list[str], list[Vote]],
) -> None:
    electorate, byzantine, votes = scenario
    outcome = BftCommit().decide(votes, electorate)
    assert outcome.choice == "x"
    assert set(outcome.flagged) <= set(byzantine)


@st.composite
def split_views(draw: st.DrawFn) -> tuple[list[str], list[Vote], list[Vote]]:
    """Honest voters vote once each (or not at all); f Byzantine voters tell two observers different
    things. Each observer sees only some of the honest votes."""
    f = draw(st.integers(min_value=1, max_value=3))
    electorate = [f"v{i}" for i in range(3 * f + 1)]
    byzantine = electorate[:f]
    honest = {v: draw(st.sampled_from([None, "x", "y"])) for v in electorate[f:]}
    honest_votes = [Vote(v, c) for v, c in honest.items() if c is not None]
    views = []
    for _ in range(2):
        seen = [v for v in honest_votes if draw(st.booleans())]
        lies = [Vote(v, draw(st.sampled_from(["x", "y"]))) for v in byzantine if draw(st.booleans())]
        views.append(seen + lies)
    return electorate, views[0], views[1]


@given(split_views())
@settings(max_examples=60, deadline=None)
def test_two_observers_never_commit_different_choices(scenario: tuple[list[str], list[Vote], list[Vote]]) -> None:
    electorate, first_view, second_view = scenario
    first = BftCommit().decide(first_view, electorate).choice
    second = BftCommit().decide(second_view, electorate).choice
    assert first is None or second is None or first == second
