"""Assigner knobs (environment variables prefixed ARCHITECT_ASSIGNER_)."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.assigner.retry_policy import RetryPolicy, adaptive_policy, exponential_policy, jittered_policy


class AssignerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHITECT_ASSIGNER_", extra="ignore")

    retry_policy: Literal["exponential", "jittered", "adaptive"] = "adaptive"
    auction_window_s: float = 1.0
    heartbeat_timeout_s: float = 15.0
    min_stability: float = 0.5
    instance_id: str = "0"

    def policy(self) -> RetryPolicy:
        return {"exponential": exponential_policy, "jittered": jittered_policy, "adaptive": adaptive_policy}[
            self.retry_policy
        ]()
