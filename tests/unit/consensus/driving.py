"""Helpers that drive a Decision through signals the way the consensus service would."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from services.consensus.actions import Action, RequestContributions
from services.consensus.debate import Contribution, Phase
from services.consensus.decision import Decision, DecisionRequest, Transition
from services.consensus.protocols import Vote
from services.consensus.tiers import Tier, TierPolicies
from services.consensus.track_record import TrackRecord

Signal = Vote | Contribution | str


def open_decision(
    tier: Tier,
    electorate: Iterable[str] = ("a", "b", "c", "d"),
    options: tuple[str, ...] | None = ("x", "y"),
    deadline: float | None = None,
    records: Mapping[str, TrackRecord] | None = None,
    policies: TierPolicies | None = None,
) -> Transition:
    request = DecisionRequest("dec-1", "Which way?", tier, tuple(electorate), options, deadline)
    return Decision.open(request, 0.0, policies, records)


def apply(decision: Decision, signal: Signal, now: float) -> Transition:
    """Feed one signal: a vote, a contribution, or the id of a step whose deadline passed."""
    if isinstance(signal, Vote):
        return decision.cast(signal, now)
    if isinstance(signal, Contribution):
        return decision.contribute(signal, now)
    return decision.deadline_passed(signal, now)


def feed(decision: Decision, signals: Iterable[Signal], now: float = 1.0) -> tuple[Decision, list[Action]]:
    actions: list[Action] = []
    for signal in signals:
        transition = apply(decision, signal, now)
        decision = transition.decision
        actions.extend(transition.actions)
    return decision, actions


def votes(choices: Mapping[str, str], round_number: int = 1) -> list[Vote]:
    return [
        Vote(voter, choice, rationale=f"{voter} thinks {choice}", round=round_number)
        for voter, choice in choices.items()
    ]


def debate_round(
    decision: Decision, proposals: Mapping[str, str], revisions: Mapping[str, str], now: float = 2.0
) -> tuple[Decision, list[Action]]:
    """Everyone contributes to one full debate round (proposals only matter in the opening round)."""
    actions: list[Action] = []
    phases = [Phase.CRITIQUE, Phase.REVISE]
    if decision.debates and decision.debates[-1].phase == Phase.PROPOSE:
        phases.insert(0, Phase.PROPOSE)
    for phase in phases:
        round_number = decision.round
        stance = {Phase.PROPOSE: proposals, Phase.REVISE: revisions}.get(phase, {})
        signals = [
            Contribution(agent, round_number, phase, f"{agent} {phase}s", stance.get(agent))
            for agent in decision.request.electorate
        ]
        decision, more = feed(decision, signals, now)
        actions.extend(more)
    return decision, actions


def requests_for(actions: Iterable[Action], phase: Phase) -> list[RequestContributions]:
    return [a for a in actions if isinstance(a, RequestContributions) and a.phase == phase]
