"""Debate state machine: propose -> critique -> revise rounds, convergence, exhaustion, idempotence."""

from __future__ import annotations

from fractions import Fraction

import pytest

from services.consensus.debate import Contribution, Debate, DebateRules, Phase

AGENTS = ("a", "b", "c")


def run_phase(debate: Debate, positions: dict[str, str | None] | None = None) -> Debate:
    """Every agent still awaited contributes to the current phase (with the given positions, if any)."""
    for request in debate.expected():
        position = (positions or {}).get(request.agent)
        debate, acceptance = debate.accept(
            Contribution(request.agent, request.round, request.phase, f"{request.agent} on {request.phase}", position)
        )
        assert acceptance == "accepted"
    return debate


def run_round(debate: Debate, proposals: dict[str, str | None], revisions: dict[str, str | None]) -> Debate:
    if debate.phase == Phase.PROPOSE:
        debate = run_phase(debate, proposals)
    return run_phase(run_phase(debate), revisions)


def test_a_debate_opens_by_asking_every_agent_for_a_proposal() -> None:
    debate = Debate.start(["c", "a", "b"])
    assert [(r.agent, r.round, r.phase) for r in debate.expected()] == [
        ("a", 1, Phase.PROPOSE),
        ("b", 1, Phase.PROPOSE),
        ("c", 1, Phase.PROPOSE),
    ]


def test_the_phase_advances_once_every_agent_contributed() -> None:
    debate = Debate.start(AGENTS)
    debate, _ = debate.accept(Contribution("a", 1, Phase.PROPOSE, position="x"))
    assert debate.phase == Phase.PROPOSE
    debate = run_phase(debate, {"a": "x", "b": "y", "c": "x"})
    assert debate.phase == Phase.CRITIQUE


def test_critics_see_the_current_positions_and_revisers_see_the_critiques() -> None:
    debate = run_phase(Debate.start(AGENTS), {"a": "x", "b": "y", "c": "x"})
    assert {(c.agent, c.position) for c in debate.context()} == {("a", "x"), ("b", "y"), ("c", "x")}
    debate = run_phase(debate)
    assert debate.phase == Phase.REVISE
    assert {c.phase for c in debate.context()} == {Phase.CRITIQUE}


def test_a_debate_converges_when_every_agent_revises_to_the_same_position() -> None:
    debate = run_round(Debate.start(AGENTS), {"a": "x", "b": "y", "c": "x"}, {"a": "x", "b": "x", "c": "x"})
    assert debate.status == "converged"
    assert debate.consensus == "x"
    assert debate.expected() == ()


def test_an_agreement_threshold_below_one_accepts_a_qualified_consensus() -> None:
    rules = DebateRules(max_rounds=2, convergence=Fraction(3, 4))
    debate = Debate.start("abcd", rules)
    debate = run_round(debate, dict.fromkeys("abcd", "x"), {"a": "x", "b": "x", "c": "x", "d": "y"})
    assert debate.consensus == "x"


def test_a_later_round_starts_at_the_critique_of_the_revised_positions() -> None:
    debate = run_round(Debate.start(AGENTS), {"a": "x", "b": "y", "c": "z"}, {"a": "x", "b": "y", "c": "x"})
    assert (debate.round, debate.phase, debate.status) == (2, Phase.CRITIQUE, "running")
    assert {c.position for c in debate.context()} == {"x", "y"}


def test_a_debate_without_convergence_is_exhausted_after_its_last_round() -> None:
    debate = Debate.start(AGENTS, DebateRules(max_rounds=2))
    split = {"a": "x", "b": "y", "c": "z"}
    debate = run_round(run_round(debate, split, split), split, split)
    assert debate.status == "exhausted"
    assert debate.rounds_held == 2
    assert debate.consensus is None


def test_rounds_are_numbered_from_the_given_first_round() -> None:
    debate = Debate.start(AGENTS, DebateRules(max_rounds=3), first_round=4)
    assert debate.expected()[0].request_id == "r4:propose:a"
    assert debate.last_round == 6


def test_a_silent_agent_keeps_its_previous_position_when_a_phase_is_closed() -> None:
    debate = run_phase(Debate.start(AGENTS), {"a": "x", "b": "y", "c": "x"})
    debate = run_phase(debate)
    debate, _ = debate.accept(Contribution("a", 1, Phase.REVISE, position="x"))
    debate = debate.close_phase()
    assert debate.positions() == {"a": "x", "b": "y", "c": "x"}
    assert debate.status == "running"


def test_an_agent_that_never_took_a_position_counts_as_disagreeing() -> None:
    debate = Debate.start(AGENTS, DebateRules(max_rounds=1))
    debate = run_round(debate, {"a": "x", "b": "x"}, {})
    assert debate.agreement() == ("x", Fraction(2, 3))
    assert debate.status == "exhausted"


def test_a_redelivered_contribution_is_a_harmless_duplicate() -> None:
    contribution = Contribution("a", 1, Phase.PROPOSE, "because", "x")
    debate, _ = Debate.start(AGENTS).accept(contribution)
    again, acceptance = debate.accept(contribution)
    assert acceptance == "duplicate"
    assert again == debate


def test_a_second_different_contribution_for_the_same_phase_is_ignored() -> None:
    debate, _ = Debate.start(AGENTS).accept(Contribution("a", 1, Phase.PROPOSE, position="x"))
    again, acceptance = debate.accept(Contribution("a", 1, Phase.PROPOSE, position="y"))
    assert acceptance == "conflicting"
    assert again.positions() == {"a": "x"}


def test_contributions_for_another_phase_or_from_strangers_are_not_accepted() -> None:
    debate = Debate.start(AGENTS)
    assert debate.accept(Contribution("a", 1, Phase.REVISE, position="x"))[1] == "not_expected"
    assert debate.accept(Contribution("zed", 1, Phase.PROPOSE, position="x"))[1] == "not_a_participant"


def test_a_debate_round_trips_through_plain_dicts() -> None:
    debate = run_phase(Debate.start(AGENTS, DebateRules(3, Fraction(2, 3))), {"a": "x", "b": "y", "c": "x"})
    assert Debate.from_dict(debate.to_dict()) == debate


@pytest.mark.parametrize("convergence", [Fraction(1, 2), Fraction(0), Fraction(3, 2)])
def test_a_convergence_threshold_that_would_allow_two_winners_is_refused(convergence: Fraction) -> None:
    with pytest.raises(ValueError):
        DebateRules(convergence=convergence)
