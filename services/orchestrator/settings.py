"""Orchestrator knobs (environment variables prefixed ARCHITECT_ORCHESTRATOR_)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.orchestrator.htn import Domain, builtin_domain, load_domain_file
from services.orchestrator.tier_timeouts import TierTimeouts


class OrchestratorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHITECT_ORCHESTRATOR_", extra="ignore")

    worker_timeout_s: float | None = 1800.0
    manager_timeout_s: float | None = 3600.0
    approval_timeout_s: float | None = None
    methods_dir: Path | None = None
    """YAML files of user methods and operators, loaded on top of the built-in domain."""
    approvers: str = ""
    """Comma-separated identities allowed to decide approval gates; empty: any caller with the approve scope."""

    def timeouts(self) -> TierTimeouts:
        return TierTimeouts(self.worker_timeout_s, self.manager_timeout_s, self.approval_timeout_s)

    def domain(self) -> Domain:
        domain = builtin_domain()
        if self.methods_dir is not None:
            for path in sorted(self.methods_dir.glob("*.y*ml")):
                domain = load_domain_file(path, base=domain)
        return domain

    def approver_set(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.approvers.split(",") if a.strip())
