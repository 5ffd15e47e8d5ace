"""Callable agent backends the end-to-end fleet uses where a scripted agent cannot be steered by the test.

They run inside the agent runtime process (``kind: callable`` in the fleet file), so they take their
settings from the fleet file's ``options`` and from the task itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from services.agent_runtime.backends.contract import BackendFailure, TaskRequest

#: A goal parameter holding the plan the planner must answer with (to test plans the orchestrator rejects).
PROPOSED_PLAN_PARAM = "proposed_plan"

DEFAULT_PLAN: dict[str, Any] = {
    "rationale": "design first, then build, test and review",
    "steps": [
        {"id": "design", "operator": "design"},
        {"id": "code", "operator": "code", "depends_on": ["design"]},
        {"id": "tests", "operator": "tests", "depends_on": ["code"]},
        {"id": "review", "operator": "review", "depends_on": ["tests"]},
    ],
}


def plan_from_params(request: TaskRequest) -> dict[str, Any]:
    """Answer ``decompose`` with the goal's ``proposed_plan`` parameter, else with a valid default plan."""
    if request.operator != "decompose":
        raise BackendFailure("invalid", f"the planner only decomposes goals, not '{request.operator}'")
    params = request.inputs.get("params") or {}
    return {"plan": params.get(PROPOSED_PLAN_PARAM, DEFAULT_PLAN), "tokens_used": 50}


def fail_while_flagged(request: TaskRequest, flag: str) -> dict[str, Any]:
    """Crash while the file ``flag`` exists (the test creates and removes it), else do the work."""
    if Path(flag).exists():
        raise BackendFailure("crash", f"{request.agent_id} is down (flag {flag} is set)")
    return {"summary": f"{request.operator} done by {request.agent_id}"}


def slow_first_attempt(request: TaskRequest, delay_s: float) -> dict[str, Any]:
    """Hang for ``delay_s`` on a task's first attempt (longer than its timeout), answer at once on retries."""
    if request.attempt == 1:
        time.sleep(delay_s)
    return {"summary": f"{request.operator} done by {request.agent_id} on attempt {request.attempt}"}
