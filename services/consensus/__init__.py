"""Consensus engine: voting protocols, debates, tier policies, the Decision aggregate, and the service.

The domain modules are pure: no I/O, no clocks, no randomness. ``engine`` turns commands and task results
into aggregate calls and the aggregate's facts into events; ``handler`` and ``service`` run it as a faust
app (``python -m services.consensus``); ``saga_bridge`` lets saga steps ask for decisions; ``track_book``
keeps the voters' track records as replicated CRDT state.
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
