"""Behaviour samples from task outcomes: what an agent's finished (or failed) task says about its behaviour.

A success gives the output text (the output's ``text`` field when it has one, else the output as sorted JSON
without the fields that describe the interaction), the tools and memory it reports using, its latency and
tokens. A failure counts only when it is the agent's own doing (``crash``, ``invalid``): timeouts, rate limits,
auth and budget refusals say nothing about how the agent behaves.
"""

from __future__ import annotations

import json
from typing import Any

from shared.events.catalogue.drift import BehaviourSampled
from shared.events.catalogue.tasks import TaskFailed, TaskSucceeded

#: Output fields that describe the interaction rather than being part of what the agent said.
INTERACTION_FIELDS = frozenset({"tools_used", "memory_used", "effective_drift", "findings"})
BEHAVIOURAL_FAILURES = frozenset({"crash", "invalid"})


def output_text(output: dict[str, Any]) -> str:
    """The text an output stands for: its ``text`` field, else the rest of it as sorted JSON."""
    text = output.get("text")
    if isinstance(text, str):
        return text
    said = {key: value for key, value in output.items() if key not in INTERACTION_FIELDS}
    return json.dumps(said, sort_keys=True, default=str)


def _tools(output: dict[str, Any]) -> list[str]:
    tools = output.get("tools_used")
    if not isinstance(tools, list):
        return []
    return sorted({str(tool) for tool in tools})


def behaviour_sample(payload: object) -> BehaviourSampled | None:
    """The sample a task outcome gives, or None when the event is not a behavioural outcome."""
    if isinstance(payload, TaskSucceeded):
        output = payload.output
        return BehaviourSampled(
            agent_id=payload.agent_id,
            task_id=payload.task_id,
            goal_id=payload.goal_id,
            attempt=payload.attempt,
            output_text=output_text(output),
            tools_used=_tools(output),
            memory_used=output.get("memory_used") is True,
            latency_ms=float(payload.duration_ms),
            tokens=payload.tokens_used,
        )
    if isinstance(payload, TaskFailed) and payload.error_class in BEHAVIOURAL_FAILURES and payload.agent_id:
        return BehaviourSampled(
            agent_id=payload.agent_id,
            task_id=payload.task_id,
            goal_id=payload.goal_id,
            attempt=payload.attempt,
            output_text=payload.error,
            latency_ms=float(payload.duration_ms),
            succeeded=False,
            error_class=payload.error_class,
        )
    return None
