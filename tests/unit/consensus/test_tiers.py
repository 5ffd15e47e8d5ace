"""Tier policies: the SEED-NOTES defaults, validation, and configuration from plain data."""

from __future__ import annotations

from fractions import Fraction

import pytest

from services.consensus.debate import DebateRules
from services.consensus.protocols import ProtocolSpec
from services.consensus.tiers import DebateStage, TierPolicies, TierPolicy, VoteStage, tactical_policy


def test_strategic_default_is_a_five_round_debate_then_a_human() -> None:
    policy = TierPolicies().strategic
    assert policy.stages == (DebateStage(DebateRules(max_rounds=5)),)
    assert "human approval" in policy.escalation


def test_tactical_default_is_supermajority_then_three_debate_rounds_then_weighted_vote() -> None:
    assert TierPolicies().tactical.stages == (
        VoteStage(ProtocolSpec("supermajority", fraction=Fraction(2, 3))),
        DebateStage(DebateRules(max_rounds=3)),
        VoteStage(ProtocolSpec("weighted", tie_break=True), ballot="debate_positions"),
    )


def test_operational_default_is_one_instant_majority_vote() -> None:
    assert TierPolicies().operational.stages == (VoteStage(ProtocolSpec("majority", tie_break=True)),)


def test_policies_round_trip_through_plain_dicts() -> None:
    policies = TierPolicies(tactical=tactical_policy(Fraction(3, 4), debate_rounds=2, step_timeout_s=60))
    assert TierPolicies.from_dict(policies.to_dict()) == policies


def test_tiers_missing_from_a_configuration_keep_their_defaults() -> None:
    custom = tactical_policy(debate_rounds=4).to_dict()
    policies = TierPolicies.from_dict({"tactical": custom})
    assert policies.tactical.stages[1] == DebateStage(DebateRules(max_rounds=4))
    assert policies.strategic == TierPolicies().strategic


def test_a_vote_over_debate_positions_needs_a_debate_before_it() -> None:
    with pytest.raises(ValueError):
        TierPolicy("tactical", (VoteStage(ProtocolSpec("weighted"), "debate_positions"),), 60, "stuck")


def test_an_unknown_tier_is_refused() -> None:
    with pytest.raises(ValueError):
        TierPolicies().for_tier("galactic")  # type: ignore[arg-type]
