"""Callable agent backends for the saga integration tests: they record every execution in a file.

Each execution appends one JSON line (task, attempt, agent, operator) to ``log`` before answering, so a test can
count how often each step really ran. Saga parameters steer them: ``fail_operators`` fail (as ``auth``, which
neither the assigner nor the saga retries), ``fail_first_attempt`` fail (as ``invalid``: the assigner retries
the task once, then the saga retries the step) only on a step's first saga attempt (task ids end in ``/a1``),
``delay_s`` makes every task take that long, and ``slow_operators`` (operator -> seconds) only some.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from services.agent_runtime.backends.contract import BackendFailure, TaskRequest


def record_and_answer(request: TaskRequest, log: str) -> dict[str, Any]:
    line = {
        "task_id": request.task_id,
        "attempt": request.attempt,
        "agent_id": request.agent_id,
        "operator": request.operator,
        "saga_id": request.goal_id,
    }
    descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, (json.dumps(line) + "\n").encode())
    finally:
        os.close(descriptor)
    time.sleep(float(request.inputs.get("delay_s", 0.0)))
    time.sleep(float(request.inputs.get("slow_operators", {}).get(request.operator, 0.0)))
    if request.operator in request.inputs.get("fail_operators", []):
        raise BackendFailure("auth", f"{request.operator} refused (the test asked for it)")
    if request.operator in request.inputs.get("fail_first_attempt", []) and request.task_id.endswith("/a1"):
        raise BackendFailure("invalid", f"{request.operator} failed its first saga attempt (the test asked for it)")
    return {"done": request.operator, "tokens_used": 1}
