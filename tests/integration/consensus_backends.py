"""Scripted voters for the consensus integration tests: each agent answers from the script in the decision's
context (``context["script"][agent_id]``: its vote and debate position), or abstains when it has no line."""

from __future__ import annotations

from typing import Any

from services.agent_runtime.backends.contract import TaskRequest


def scripted_voter(request: TaskRequest) -> dict[str, Any]:
    script = request.inputs.get("context", {}).get("script", {})
    choice = script.get(request.agent_id)
    if choice is None:
        return {"tokens_used": 1}  # no usable answer: the round's deadline closes it without this voter
    if request.operator == "vote":
        return {"choice": choice, "rationale": f"{request.agent_id} prefers {choice}", "tokens_used": 1}
    text = f"{request.agent_id} {request.operator}s {choice}"
    position = None if request.operator == "critique" else choice
    return {"text": text, "position": position, "tokens_used": 1}
