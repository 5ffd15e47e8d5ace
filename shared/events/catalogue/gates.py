"""Decision gates of goals: the consensus engine tells the orchestrator how the decision a gated step waits for
ended (keyed by goal id, like the goal's other commands). See ``services/orchestrator/decision_gates.py``."""

from __future__ import annotations

from pydantic import Field

from shared.bus.topics import GOALS_COMMANDS
from shared.events.envelope import Payload
from shared.events.spec import EventSpec


class DecisionGateSettled(Payload):
    """The decision ``decision_id`` that task ``task_id`` of goal ``goal_id`` waits for ended: with ``choice``
    (None: no decision, ``reason`` says why); ``accepted`` when the choice is one the gate accepts."""

    goal_id: str
    task_id: str
    decision_id: str
    choice: str | None = None
    accepted: bool
    reason: str = ""
    decided_by: list[str] = Field(default_factory=list)


SPECS: tuple[EventSpec, ...] = (
    EventSpec(
        "DecisionGateSettled",
        1,
        DecisionGateSettled,
        GOALS_COMMANDS,
        "command",
        "orchestrator",
        "The decision a gated task waits for ended (sent by the consensus engine).",
    ),
)
