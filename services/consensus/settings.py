"""Consensus engine knobs (environment variables prefixed ARCHITECT_CONSENSUS_)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.consensus.engine import DEFAULT_BALLOT_CAPABILITY, EngineOptions
from services.consensus.tiers import TierPolicies, operational_policy, strategic_policy, tactical_policy


class ConsensusSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHITECT_CONSENSUS_", extra="ignore")

    strategic_step_timeout_s: float = 1800.0
    tactical_step_timeout_s: float = 900.0
    operational_step_timeout_s: float = 300.0
    """How long one vote round or debate phase waits for agents, per tier."""
    ballot_capability: str = DEFAULT_BALLOT_CAPABILITY
    """Capability a ballot task needs; ``{agent}`` is the voter's id (each voter gets its own ballot)."""
    policies_file: Path | None = None
    """JSON tier policies (``TierPolicies.from_dict``); when given it replaces the timeouts above."""

    def policies(self) -> TierPolicies:
        if self.policies_file is not None:
            return TierPolicies.from_dict(json.loads(self.policies_file.read_text()))
        return TierPolicies(
            strategic=strategic_policy(step_timeout_s=self.strategic_step_timeout_s),
            tactical=tactical_policy(step_timeout_s=self.tactical_step_timeout_s),
            operational=operational_policy(step_timeout_s=self.operational_step_timeout_s),
        )

    def engine_options(self) -> EngineOptions:
        if "{agent}" not in self.ballot_capability:
            raise ValueError("ARCHITECT_CONSENSUS_BALLOT_CAPABILITY must contain {agent}")
        return EngineOptions(policies=self.policies(), ballot_capability=self.ballot_capability)
