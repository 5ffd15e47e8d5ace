"""Drift monitor knobs (environment variables prefixed ARCHITECT_DRIFT_)."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.drift_monitor.agent_state import DriftSettings
from services.drift_monitor.anchoring import DEFAULT_MAX_ANCHORS
from services.drift_monitor.baseline import DEFAULT_BASELINE_SIZE
from services.drift_monitor.embedding import EmbeddingProvider, HashedNgramEmbedding, SentenceTransformerEmbedding
from services.drift_monitor.memory import DEFAULT_CONSOLIDATION_INTERVAL, DEFAULT_KEEP_LAST
from services.drift_monitor.shift_detector import (
    DEFAULT_CUSUM_CLIP,
    DEFAULT_CUSUM_H,
    DEFAULT_CUSUM_K,
    DEFAULT_CUSUM_MIN_SIGMA,
    DEFAULT_OUTLIER_LIMIT,
    DEFAULT_OUTLIER_WINDOW,
)
from services.drift_monitor.stability import DEFAULT_DECAY
from services.drift_monitor.thresholds import (
    DEFAULT_ALERT_BELOW,
    DEFAULT_RECOVER_AT,
    DEFAULT_RESET_BELOW,
    DEFAULT_SHIFT_RESET_AFTER,
    DriftThresholds,
    RoleThresholds,
)


class DriftMonitorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHITECT_DRIFT_", extra="ignore")

    baseline_size: int = Field(default=DEFAULT_BASELINE_SIZE, ge=1)
    decay: float = Field(default=DEFAULT_DECAY, ge=0, lt=1)
    alert_below: float = DEFAULT_ALERT_BELOW
    reset_below: float = DEFAULT_RESET_BELOW
    recover_at: float = DEFAULT_RECOVER_AT
    cusum_k: float = DEFAULT_CUSUM_K
    cusum_h: float = DEFAULT_CUSUM_H
    """Early shift detector (CUSUM per drift component): decision interval in baseline SDs; 0 turns it off."""
    cusum_min_sigma: float = DEFAULT_CUSUM_MIN_SIGMA
    cusum_clip: float = DEFAULT_CUSUM_CLIP
    cusum_outlier_window: int = Field(default=DEFAULT_OUTLIER_WINDOW, ge=0)
    """More than cusum_outlier_limit outputs at the clip within this many interactions alarm (0: off)."""
    cusum_outlier_limit: int = Field(default=DEFAULT_OUTLIER_LIMIT, ge=1)
    shift_reset_after: int = Field(default=DEFAULT_SHIFT_RESET_AFTER, ge=0)
    """Reset an agent whose CUSUM shift persists this many interactions after its alarm (0: stability only)."""
    role_thresholds: str = ""
    """JSON object of per-role thresholds, e.g. {"manager": {"alert_below": 0.5, "reset_below": 0.4, "cusum_h": 20}}."""
    consolidation_interval: int = Field(default=DEFAULT_CONSOLIDATION_INTERVAL, ge=0)
    """EMC: interactions between consolidations of an agent's memory (0: never)."""
    keep_last: int = Field(default=DEFAULT_KEEP_LAST, ge=0)
    max_anchors: int = Field(default=DEFAULT_MAX_ANCHORS, ge=0)
    """ABA: anchors for a fully drifted agent (int(max_anchors * drift) in general; 0 disables anchoring)."""
    embedding: Literal["hashed", "minilm", "sentence-transformers"] = "hashed"
    """hashed (default, no dependencies); minilm: all-MiniLM-L6-v2 from the packaged model in NumPy (the
    ``embeddings`` extra, `services.drift_monitor.minilm`); sentence-transformers: any model by name."""
    embedding_model: str = "all-MiniLM-L6-v2"

    @field_validator("role_thresholds")
    @classmethod
    def _valid_role_thresholds(cls, value: str) -> str:
        if value.strip():
            parsed = json.loads(value)
            if not isinstance(parsed, dict) or not all(isinstance(v, dict) for v in parsed.values()):
                raise ValueError('role_thresholds must be a JSON object of objects: {"role": {"alert_below": 0.5}}')
            for role, values in parsed.items():
                try:
                    DriftThresholds.from_dict(values)
                except (TypeError, ValueError) as error:
                    raise ValueError(f"thresholds of role {role!r}: {error}") from error
        return value

    @model_validator(mode="after")
    def _consistent_thresholds(self) -> DriftMonitorSettings:
        self.thresholds()
        return self

    def thresholds(self) -> RoleThresholds:
        default = DriftThresholds(
            self.alert_below,
            self.reset_below,
            self.recover_at,
            self.cusum_k,
            self.cusum_h,
            self.cusum_min_sigma,
            self.cusum_clip,
            self.shift_reset_after,
            self.cusum_outlier_window,
            self.cusum_outlier_limit,
        )
        roles = json.loads(self.role_thresholds) if self.role_thresholds.strip() else {}
        by_role = {role: DriftThresholds.from_dict(default.to_dict() | values) for role, values in roles.items()}
        return RoleThresholds(default=default, by_role=by_role)

    def drift_settings(self) -> DriftSettings:
        return DriftSettings(baseline_size=self.baseline_size, decay=self.decay, thresholds=self.thresholds())

    def embedder(self) -> EmbeddingProvider:
        if self.embedding == "minilm":
            from services.drift_monitor.minilm import MiniLMEmbedding

            return MiniLMEmbedding()
        if self.embedding == "sentence-transformers":
            return SentenceTransformerEmbedding(self.embedding_model)
        return HashedNgramEmbedding()
