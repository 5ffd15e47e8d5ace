"""Task requests and commands for agent-runtime unit tests."""

from __future__ import annotations

from typing import Any

from services.agent_runtime.backends.contract import TaskRequest
from shared.events.catalogue.work import ExecuteTask


def request(**overrides: Any) -> TaskRequest:
    fields: dict[str, Any] = {
        "agent_id": "coder",
        "role": "worker",
        "model": "m1",
        "task_id": "t1",
        "goal_id": "g1",
        "attempt": 1,
        "operator": "code",
        "capability": "code",
        "timeout_s": 5.0,
        "inputs": {"files": ["api.py"]},
    }
    return TaskRequest(**(fields | overrides))


def command(**overrides: Any) -> ExecuteTask:
    fields: dict[str, Any] = {
        "task_id": "t1",
        "goal_id": "g1",
        "agent_id": "coder",
        "operator": "code",
        "capability": "code",
    }
    return ExecuteTask(**(fields | overrides))
