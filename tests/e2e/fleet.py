"""The fleet and the user methods the end-to-end stack runs with, written as files into the session's directory.

Agent ids carry a per-session tag: the assigner keeps its registry (breakers included) in a compacted topic,
so on a reused broker a fresh tag keeps an earlier session's breakers out of this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: Scripted workers answer after this long.
WORK_LATENCY_S = 0.1
#: The slow agent hangs this long on a first attempt: well past the manager tier's timeout in the stack.
SLOW_FIRST_ATTEMPT_S = 12.0

LOCALIZE_GOAL = "localize"
"""A user goal type of one `translate` step, served by the flaky agent and its backup only."""
AUDITED_CHANGE_GOAL = "audited_change"
"""A user goal type of one manager-tier `audit` step, served by the slow agent only."""

USER_METHODS: dict[str, Any] = {
    "operators": [
        {"name": "translate", "capability": "translate", "effects": ["translated"]},
        {"name": "audit", "capability": "audit", "tier": "manager", "effects": ["audited"]},
    ],
    "methods": [
        {"name": LOCALIZE_GOAL, "task": LOCALIZE_GOAL, "steps": [{"id": "translate", "task": "translate"}]},
        {"name": AUDITED_CHANGE_GOAL, "task": AUDITED_CHANGE_GOAL, "steps": [{"id": "audit", "task": "audit"}]},
    ],
}


def _scripted(seed: int) -> dict[str, Any]:
    return {"kind": "scripted", "latency_s": WORK_LATENCY_S, "seed": seed, "tokens_per_task": 10}


@dataclass(frozen=True)
class E2EFleet:
    tag: str
    flaky_flag: Path
    """While this file exists the flaky agent crashes on every task."""

    @property
    def planner(self) -> str:
        return f"planner-{self.tag}"

    @property
    def flaky(self) -> str:
        return f"a-flaky-{self.tag}"  # sorts before the backup: least-loaded ties go to it

    @property
    def backup(self) -> str:
        return f"b-backup-{self.tag}"

    @property
    def slow(self) -> str:
        return f"slow-{self.tag}"

    def agent_ids(self) -> list[str]:
        workers = [f"worker-{self.tag}-{n}" for n in (1, 2)]
        return [self.planner, f"lead-{self.tag}", *workers, self.flaky, self.backup, self.slow]

    def as_dict(self) -> dict[str, Any]:
        return {
            "runtime": {"id": "e2e", "heartbeat_s": 1, "drain_timeout_s": 5},
            "agents": [
                {
                    "id": self.planner,
                    "role": "high-level",
                    "capabilities": ["planning"],
                    "backend": {"kind": "callable", "target": "tests.e2e.agent_backends:plan_from_params"},
                },
                {
                    "id": f"lead-{self.tag}",
                    "role": "manager",
                    "capabilities": ["review", "analysis"],
                    "capacity": 4,
                    "backend": _scripted(1),
                },
                {
                    "id": f"worker-{self.tag}",
                    "replicas": 2,
                    "capabilities": ["design", "code", "test", "deploy", "docs", "analysis"],
                    "capacity": 4,
                    "backend": _scripted(2),
                },
                {
                    "id": self.flaky,
                    "capabilities": ["translate"],
                    "backend": {
                        "kind": "callable",
                        "target": "tests.e2e.agent_backends:fail_while_flagged",
                        "options": {"flag": str(self.flaky_flag)},
                    },
                },
                {"id": self.backup, "capabilities": ["translate"], "backend": _scripted(3)},
                {
                    "id": self.slow,
                    "capabilities": ["audit"],
                    "backend": {
                        "kind": "callable",
                        "target": "tests.e2e.agent_backends:slow_first_attempt",
                        "options": {"delay_s": SLOW_FIRST_ATTEMPT_S},
                    },
                },
            ],
        }


def write_files(directory: Path, fleet: E2EFleet) -> tuple[Path, Path]:
    """The fleet file and the user methods directory, written under ``directory``."""
    fleet_file = directory / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet.as_dict(), sort_keys=False))
    methods_dir = directory / "methods"
    methods_dir.mkdir(exist_ok=True)
    (methods_dir / "e2e.yaml").write_text(yaml.safe_dump(USER_METHODS, sort_keys=False))
    return fleet_file, methods_dir
