"""Goals: what users ask for, how the orchestrator plans them, and human approval gates."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.bus.topics import GOALS_COMMANDS, GOALS_EVENTS
from shared.events.envelope import Payload
from shared.events.spec import EventSpec

Tier = Literal["worker", "manager", "approval"]


class SubmitGoal(Payload):
    goal_id: str = Field(min_length=1, max_length=200)
    goal_type: str = Field(min_length=1, max_length=100)
    title: str = Field(default="", max_length=500)
    params: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=0, le=10)
    submitted_by: str = "anonymous"


class CancelGoal(Payload):
    goal_id: str
    reason: str = ""
    requested_by: str = "anonymous"


class ApproveGate(Payload):
    goal_id: str
    task_id: str
    approver: str
    comment: str = ""


class RejectGate(Payload):
    goal_id: str
    task_id: str
    approver: str
    reason: str = ""


class GoalSubmitted(Payload):
    goal_id: str
    goal_type: str
    title: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    priority: int = 0
    submitted_by: str = "anonymous"


class PlannedTask(Payload):
    task_id: str
    operator: str
    capability: str
    depends_on: list[str] = Field(default_factory=list)
    requires_approval: bool = False
    tier: Tier = "worker"


class GoalPlanned(Payload):
    goal_id: str
    method: str
    source: Literal["method", "agent"] = "method"
    tasks: list[PlannedTask]


class PlanRejected(Payload):
    goal_id: str
    reasons: list[str]
    plan_source: str = "agent"


class GoalCompleted(Payload):
    goal_id: str
    tasks_succeeded: int = 0


class GoalFailed(Payload):
    goal_id: str
    reason: str
    failed_task_id: str | None = None


class GoalCancelled(Payload):
    goal_id: str
    reason: str = ""


class ApprovalRequested(Payload):
    goal_id: str
    task_id: str
    operator: str
    prompt: str = ""


class ApprovalGranted(Payload):
    goal_id: str
    task_id: str
    approver: str
    comment: str = ""


class ApprovalRejected(Payload):
    goal_id: str
    task_id: str
    approver: str
    reason: str = ""


class MethodLearned(Payload):
    """A decomposition an agent wrote succeeded; it is offered as a candidate method."""

    goal_type: str
    method: str
    goal_id: str
    steps: list[PlannedTask]


class GoalSagaEnded(Payload):
    """A saga the orchestrator started for a group of a goal's steps ended (relayed from the saga's own events,
    which are keyed by saga id, onto the goal's partition)."""

    goal_id: str
    saga_id: str
    saga: str
    """The group's name in the plan (the steps' ``saga``)."""
    outcome: Literal["completed", "compensated", "failed"]
    failed_step: str | None = None
    compensated_steps: list[str] = Field(default_factory=list)
    reason: str = ""


class GoalSagaStarted(Payload):
    """The saga coordinator started a saga for a group of a goal's steps (announced on the goal's partition, so
    the goal's timeline shows it; the orchestrator, which started it, aborts it if the goal is cancelled)."""

    goal_id: str
    saga_id: str
    saga: str


def _command(payload: type[Payload], description: str, version: int = 1) -> EventSpec:
    return EventSpec(payload.__name__, version, payload, GOALS_COMMANDS, "command", "orchestrator", description)


def _event(payload: type[Payload], description: str, version: int = 1) -> EventSpec:
    return EventSpec(payload.__name__, version, payload, GOALS_EVENTS, "event", "orchestrator", description)


SPECS: tuple[EventSpec, ...] = (
    _command(SubmitGoal, "Ask Architect to deliver a goal.", version=2),
    _command(CancelGoal, "Ask to stop a goal; running tasks are abandoned."),
    _command(ApproveGate, "A human approves a gated step."),
    _command(RejectGate, "A human rejects a gated step; the goal fails."),
    _command(GoalSagaEnded, "A saga run for a group of a goal's steps ended: its outcome is the group's."),
    _event(GoalSubmitted, "A goal was accepted.", version=2),
    _event(GoalPlanned, "A goal was decomposed into a task DAG."),
    _event(PlanRejected, "A proposed decomposition failed validation."),
    _event(GoalCompleted, "Every task of a goal succeeded."),
    _event(GoalFailed, "A goal cannot finish."),
    _event(GoalCancelled, "A goal was cancelled."),
    _event(ApprovalRequested, "A gated step waits for a human."),
    _event(ApprovalGranted, "A gated step was approved."),
    _event(ApprovalRejected, "A gated step was rejected."),
    EventSpec(
        "GoalSagaStarted",
        1,
        GoalSagaStarted,
        GOALS_EVENTS,
        "event",
        "saga-coordinator",
        "A saga for a group of a goal's steps started.",
    ),
    _event(MethodLearned, "An agent-written plan succeeded and became a candidate method."),
)
