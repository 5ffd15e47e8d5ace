"""Goals ask for decisions and wait for them: the orchestrator's decision gates (see
``services/orchestrator/decision_gates.py``).

The orchestrator sends the RequestDecision itself, with ``goal_gate: {goal_id, task_id}`` and ``accept`` in its
context. When that decision ends, :func:`goal_reply` is the DecisionGateSettled the goal waits for (keyed by the
goal, on its commands topic): accepted when the choice is one of ``accept`` (any choice when none is listed); a
decision that ended without a choice (escalated with nobody to resolve it) is not accepted. A decision escalated
to a human keeps the goal waiting until ResolveDecision, like a saga's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.events.catalogue.gates import DecisionGateSettled

REPLY_TO = "goal_gate"


def goal_reply(
    context: Mapping[str, Any],
    decision_id: str,
    choice: str | None,
    reason: str = "",
    decided_by: list[str] | None = None,
) -> DecisionGateSettled | None:
    """What to tell the goal whose gate asked (None when no goal asked)."""
    reply = context.get(REPLY_TO)
    if not isinstance(reply, Mapping) or not reply.get("goal_id") or not reply.get("task_id"):
        return None
    accept = context.get("accept")
    return DecisionGateSettled(
        goal_id=str(reply["goal_id"]),
        task_id=str(reply["task_id"]),
        decision_id=decision_id,
        choice=choice,
        accepted=choice is not None and (not accept or choice in accept),
        reason=reason,
        decided_by=list(decided_by or []),
    )
