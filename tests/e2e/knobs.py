"""The end-to-end stack's shortened knobs, set through the services' own environment variables, so failures,
breakers and timeouts play out in seconds."""

from __future__ import annotations

from pathlib import Path

BREAKER_FAILURE_THRESHOLD = 2
BREAKER_OPEN_TIMEOUT_S = 6.0
MANAGER_TIMEOUT_S = 4.0
"""Manager-tier timeout: far above what review, plan and decompose take in the stack (0.1 s), far below the
slow agent's hang."""
APPROVERS = ("release-manager",)
RETRY_POLICY = "exponential"
"""1 s, 2 s, 4 s for every error class."""


def stack_env(partitions: int, data_dir: Path, methods_dir: Path) -> dict[str, str]:
    return {
        # The orchestrator's tables must have as many partitions as the topics they follow.
        "ARCHITECT_TOPIC_PARTITIONS": str(partitions),
        "ARCHITECT_DATA_DIR": str(data_dir),
        "ARCHITECT_ASSIGNER_RETRY_POLICY": RETRY_POLICY,
        "ARCHITECT_ASSIGNER_BREAKER_FAILURE_THRESHOLD": str(BREAKER_FAILURE_THRESHOLD),
        "ARCHITECT_ASSIGNER_BREAKER_OPEN_TIMEOUT_S": str(BREAKER_OPEN_TIMEOUT_S),
        "ARCHITECT_ORCHESTRATOR_MANAGER_TIMEOUT_S": str(MANAGER_TIMEOUT_S),
        "ARCHITECT_ORCHESTRATOR_METHODS_DIR": str(methods_dir),
        "ARCHITECT_ORCHESTRATOR_APPROVERS": ",".join(APPROVERS),
    }
