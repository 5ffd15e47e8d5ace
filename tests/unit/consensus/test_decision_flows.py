"""Decision flows per tier: strategic escalation, tactical fallbacks, operational instant majority."""

from __future__ import annotations

from services.consensus.actions import DecisionEscalated, DecisionReached, OpenVoteRound, RequestContributions
from services.consensus.debate import Phase
from services.consensus.protocols import ProtocolSpec, Vote, elect_leader
from services.consensus.tiers import TierPolicies, TierPolicy, VoteStage
from services.consensus.track_record import TrackRecord
from tests.unit.consensus.driving import debate_round, feed, open_decision, requests_for, votes

SPLIT = {"a": "x", "b": "x", "c": "y", "d": "y"}
AGREED = dict.fromkeys("abcd", "x")


# -- strategic --------------------------------------------------------------------------------------


def test_strategic_decision_opens_a_debate_asking_every_agent_to_propose() -> None:
    (action,) = open_decision("strategic").actions
    assert isinstance(action, RequestContributions)
    assert action.phase == Phase.PROPOSE
    assert [r.agent for r in action.requests] == ["a", "b", "c", "d"]
    assert action.deadline == 1800.0


def test_strategic_debate_that_converges_reaches_the_agreed_position() -> None:
    decision = open_decision("strategic").decision
    decision, _ = debate_round(decision, SPLIT, SPLIT)
    decision, actions = debate_round(decision, {}, AGREED)
    assert isinstance(actions[-1], DecisionReached)
    assert actions[-1].choice == "x"
    assert decision.outcome is not None and decision.outcome.protocol == "debate"


def test_strategic_debate_without_convergence_escalates_to_a_human_after_five_rounds() -> None:
    decision = open_decision("strategic").decision
    all_actions = []
    for _ in range(5):
        decision, actions = debate_round(decision, SPLIT, SPLIT)
        all_actions += actions
    assert len(requests_for(all_actions, Phase.REVISE)) == 5
    escalation = all_actions[-1]
    assert isinstance(escalation, DecisionEscalated)
    assert "human approval" in escalation.reason
    assert escalation.positions == SPLIT
    assert decision.status == "escalated"


# -- tactical ---------------------------------------------------------------------------------------


def test_tactical_supermajority_decides_without_a_debate() -> None:
    decision = open_decision("tactical").decision
    decision, actions = feed(decision, votes({"a": "x", "b": "x", "c": "x"}))
    assert [type(a) for a in actions] == [DecisionReached]
    assert decision.choice == "x"
    assert decision.outcome is not None and decision.outcome.protocol == "supermajority"


def test_tactical_without_supermajority_falls_back_to_a_debate() -> None:
    decision = open_decision("tactical").decision
    decision, actions = feed(decision, votes(SPLIT))
    (action,) = actions
    assert isinstance(action, RequestContributions)
    assert (action.round, action.phase) == (2, Phase.PROPOSE)


def test_tactical_debate_convergence_decides() -> None:
    decision, _ = feed(open_decision("tactical").decision, votes(SPLIT))
    decision, actions = debate_round(decision, SPLIT, AGREED)
    assert isinstance(actions[-1], DecisionReached)
    assert decision.choice == "x"


def test_tactical_debate_without_convergence_falls_back_to_a_weighted_vote_on_final_positions() -> None:
    records = {"c": TrackRecord(18, 20), "d": TrackRecord(9, 10)}
    decision, _ = feed(open_decision("tactical", records=records).decision, votes(SPLIT))
    all_actions = []
    for _ in range(3):
        decision, actions = debate_round(decision, SPLIT, SPLIT)
        all_actions += actions
    assert len(requests_for(all_actions, Phase.REVISE)) == 3
    assert isinstance(all_actions[-1], DecisionReached)
    assert decision.choice == "y"
    assert decision.outcome is not None and decision.outcome.protocol == "weighted+leader"


def test_tactical_weighted_tie_is_settled_by_the_leader_of_the_term() -> None:
    decision, _ = feed(open_decision("tactical").decision, votes(SPLIT))
    for _ in range(3):
        decision, _ = debate_round(decision, SPLIT, SPLIT)
    outcome = decision.outcome
    assert outcome is not None and outcome.leader == elect_leader("dec-1", outcome.term or 0, "abcd")
    assert decision.choice == SPLIT[outcome.leader]


def test_tactical_policy_escalates_when_even_the_weighted_vote_has_no_positions() -> None:
    decision, _ = feed(open_decision("tactical").decision, votes(SPLIT))
    for _ in range(3):
        decision, actions = debate_round(decision, {}, {})
    assert isinstance(actions[-1], DecisionEscalated)
    assert "no weighted winner" in actions[-1].reason


# -- operational ------------------------------------------------------------------------------------


def test_operational_majority_is_decided_as_soon_as_it_cannot_change() -> None:
    transition = open_decision("operational", electorate="abcde")
    assert isinstance(transition.actions[0], OpenVoteRound)
    decision, actions = feed(transition.decision, votes({"a": "x", "b": "y", "c": "x", "d": "x"}))
    assert isinstance(actions[-1], DecisionReached)
    assert decision.choice == "x"
    assert len(decision.votes_of(1)) == 4
    assert any(e.kind == "round_closed" and e.details["why"] == "outcome can no longer change" for e in decision.audit)


def test_operational_vote_without_majority_escalates() -> None:
    decision = open_decision("operational", electorate="abcde", options=None).decision
    decision, actions = feed(decision, [*votes({"a": "x", "b": "x", "c": "y", "d": "z"}), "r1:vote"])
    assert isinstance(actions[-1], DecisionEscalated)
    assert actions[-1].reason == "operational vote found no majority"


def test_operational_tie_is_settled_by_a_leader() -> None:
    tie = {"c": "y", "a": "x", "d": "y", "b": "x"}
    decision, actions = feed(open_decision("operational").decision, votes(tie))
    assert isinstance(actions[-1], DecisionReached)
    assert decision.outcome is not None and decision.outcome.leader is not None
    assert decision.choice == SPLIT[decision.outcome.leader]


def test_a_configured_bft_tier_commits_despite_a_byzantine_voter() -> None:
    bft = TierPolicy("operational", (VoteStage(ProtocolSpec("bft")),), 60.0, "no commit quorum")
    decision = open_decision("operational", policies=TierPolicies(operational=bft)).decision
    signals = [Vote("d", "x"), Vote("d", "y"), Vote("a", "x"), Vote("b", "x"), Vote("c", "x")]
    decision, _ = feed(decision, signals)
    assert decision.choice == "x"
    assert decision.outcome is not None and decision.outcome.flagged == ("d",)
