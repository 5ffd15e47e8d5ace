"""Assigner knobs (environment variables prefixed ARCHITECT_ASSIGNER_)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.assigner.breaker import BreakerConfig, BreakerPolicy
from services.assigner.retry_policy import RetryPolicy, adaptive_policy, exponential_policy, jittered_policy


class AssignerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHITECT_ASSIGNER_", extra="ignore")

    retry_policy: Literal["exponential", "jittered", "adaptive"] = "adaptive"
    auction_window_s: float = 1.0
    heartbeat_timeout_s: float = 15.0
    min_stability: float = 0.5
    instance_id: str = "0"
    breaker_failure_threshold: int = 3
    """Consecutive failures that open an agent's breaker (agents without a per-role breaker)."""
    breaker_open_timeout_s: float = 300.0
    """How long an open breaker fails fast before it lets probes through."""
    breaker_half_open_probes: int = 1
    breaker_success_threshold: int = 2
    """Consecutive probe successes that close a half-open breaker."""
    finished_retention_s: float = 6 * 3600.0
    """How long a finished task's id is remembered, so a TaskCreated delivered again (a replayed segment, an
    orchestrator re-emitting after a crash) does not dispatch the task a second time."""

    def breaker_policy(self) -> BreakerPolicy:
        """The default breaker from these settings; per-role breakers (architect) keep theirs."""
        return BreakerPolicy(
            default=BreakerConfig(
                failure_threshold=self.breaker_failure_threshold,
                open_timeout_s=self.breaker_open_timeout_s,
                half_open_max_probes=self.breaker_half_open_probes,
                success_threshold=self.breaker_success_threshold,
            )
        )

    def policy(self) -> RetryPolicy:
        return {"exponential": exponential_policy, "jittered": jittered_policy, "adaptive": adaptive_policy}[
            self.retry_policy
        ]()
