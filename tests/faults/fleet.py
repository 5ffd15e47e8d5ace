"""The fleet, saga definition and environment the fault-injection stack runs with, written as files.

One agent runtime hosts two workers whose callable backend (``tests.integration.saga_backends``) appends a line
to an execution log for every task it runs, so "no task ran twice" is counted from what really ran. The workers
serve every capability of the ``fix_bug`` method and the operators of the ``order`` saga.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.e2e.knobs import stack_env

GOAL_TYPE = "fix_bug"
GOAL_TASKS = ("reproduce", "debug_root_cause", "implement_fix", "verify_fix", "deploy_hotfix")
SAGA_OPERATORS = ("reserve", "release", "charge", "refund", "ship")
CAPABILITIES = ("test", "analysis", "code", "deploy", *SAGA_OPERATORS)


def saga_definition(name: str) -> dict[str, Any]:
    """Reserve, charge, ship: reserve and charge have compensations (release, refund)."""
    return {
        "name": name,
        "steps": [
            {"name": "reserve", "action": {"operator": "reserve"}, "compensation": {"operator": "release"}},
            {"name": "charge", "action": {"operator": "charge"}, "compensation": {"operator": "refund"}},
            {"name": "ship", "action": {"operator": "ship"}},
        ],
    }


def fleet(tag: str, execution_log: Path) -> dict[str, Any]:
    backend = {
        "kind": "callable",
        "target": "tests.integration.saga_backends:record_and_answer",
        "options": {"log": str(execution_log)},
    }
    return {
        "runtime": {"id": f"faults-{tag}", "heartbeat_s": 1, "drain_timeout_s": 5},
        "agents": [
            {
                "id": f"fworker-{tag}",
                "replicas": 2,
                "capabilities": list(CAPABILITIES),
                "capacity": 4,
                "backend": backend,
            }
        ],
    }


def agent_ids(tag: str) -> list[str]:
    return [f"fworker-{tag}-{n}" for n in (1, 2)]


def write_stack_files(directory: Path, tag: str, saga_name: str, partitions: int) -> tuple[Path, dict[str, str]]:
    """The fleet file and the services' environment (the e2e knobs plus the saga definitions directory)."""
    execution_log = directory / "executions.jsonl"
    fleet_file = directory / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet(tag, execution_log), sort_keys=False))
    methods_dir = directory / "methods"
    methods_dir.mkdir(exist_ok=True)
    definitions_dir = directory / "definitions"
    definitions_dir.mkdir(exist_ok=True)
    (definitions_dir / "order.yaml").write_text(yaml.safe_dump(saga_definition(saga_name), sort_keys=False))
    env = stack_env(partitions, directory / "data", methods_dir) | {
        "ARCHITECT_SAGA_DEFINITIONS_DIR": str(definitions_dir),
        # Sagas asked to fail make their agent fail a task on purpose; that must not open its breaker here.
        "ARCHITECT_ASSIGNER_BREAKER_FAILURE_THRESHOLD": "1000",
    }
    return fleet_file, env
