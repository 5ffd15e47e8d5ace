"""Consensus engine domain: voting protocols, debates, tier policies and the Decision aggregate.

Everything here is pure: no I/O, no clocks, no randomness. The consensus service decodes commands and
events, feeds them to a :class:`~services.consensus.decision.Decision`, and publishes the resulting
actions.
"""

from services.consensus.actions import (
    Action,
    DecisionEscalated,
    DecisionReached,
    OpenVoteRound,
    RequestContributions,
)
from services.consensus.audit import AuditEntry
from services.consensus.debate import Contribution, ContributionRequest, Debate, DebateRules, Phase
from services.consensus.decision import Decision, DecisionRequest, Transition, replay
from services.consensus.tiers import (
    DebateStage,
    Tier,
    TierPolicies,
    TierPolicy,
    VoteStage,
    operational_policy,
    strategic_policy,
    tactical_policy,
)
from services.consensus.track_record import TrackRecord, weights_from_track_records

__all__ = [
    "Action",
    "AuditEntry",
    "Contribution",
    "ContributionRequest",
    "Debate",
    "DebateRules",
    "DebateStage",
    "Decision",
    "DecisionEscalated",
    "DecisionReached",
    "DecisionRequest",
    "OpenVoteRound",
    "Phase",
    "RequestContributions",
    "Tier",
    "TierPolicies",
    "TierPolicy",
    "TrackRecord",
    "Transition",
    "VoteStage",
    "operational_policy",
    "replay",
    "strategic_policy",
    "tactical_policy",
    "weights_from_track_records",
]
