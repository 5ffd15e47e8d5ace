"""Sagas: multi-step runs whose executed steps are compensated in reverse order when a step fails for good.

Commands go to ``architect.sagas.commands`` and events to ``architect.sagas.events``, both keyed by saga id;
the saga coordinator owns every type. A step (or compensation) is either a task for an agent (its TaskCreated
carries the saga id as ``goal_id``) or a command for another service, announced by ``SagaStepStarted`` /
``CompensationStarted`` with ``kind="command"``; that service (or a human) answers with
``ReportSagaActionResult``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.bus.topics import SAGAS_COMMANDS, SAGAS_EVENTS
from shared.events.envelope import Payload
from shared.events.spec import EventSpec

ActionKind = Literal["operator", "command"]
Phase = Literal["step", "compensation"]
Resolution = Literal["compensated_manually", "retry"]

OWNER = "saga-coordinator"


class StartSaga(Payload):
    """Start a run of a saga definition: a built-in or configured one by name, or one given inline."""

    saga_id: str = Field(min_length=1, max_length=200)
    definition: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    definition_body: dict[str, Any] | None = None
    """A whole definition (the YAML as a mapping); when given, ``definition`` must equal its name."""
    started_by: str = "anonymous"


class ReportSagaActionResult(Payload):
    """The answer to a command step or compensation, from the service (or human) that carried it out."""

    saga_id: str
    phase: Phase
    step_index: int = Field(ge=0)
    attempt: int = Field(ge=1)
    round: int = Field(default=0, ge=0)
    """Compensations only: bumped each time a human asks to retry an escalated compensation."""
    outcome: Literal["succeeded", "failed"]
    error: str = ""
    retryable: bool = True
    output: dict[str, Any] = Field(default_factory=dict)
    reported_by: str = "anonymous"


class ResolveCompensation(Payload):
    """A human resolved an escalated compensation: undone by hand, or try it again with a fresh budget."""

    saga_id: str
    step_index: int = Field(ge=0)
    resolution: Resolution
    resolved_by: str = "anonymous"
    comment: str = ""


class AbortSaga(Payload):
    """Stop a saga: no further step starts, and its executed steps are compensated in reverse order (an attempt in
    flight is awaited first, up to a grace period). The coordinator sends it for the sagas of a cancelled goal."""

    saga_id: str
    reason: str = Field(default="", max_length=1000)
    requested_by: str = "anonymous"


class SagaTimeoutElapsed(Payload):
    """Delivered by the scheduler when an attempt's deadline has passed (it may have finished since)."""

    saga_id: str
    phase: Phase
    step_index: int = Field(ge=0)
    attempt: int = Field(ge=1)
    round: int = Field(default=0, ge=0)
    """Compensations only: bumped each time a human asks to retry an escalated compensation."""


class SagaRetryDue(Payload):
    """Delivered by the scheduler when the backoff before an attempt has passed."""

    saga_id: str
    phase: Phase
    step_index: int = Field(ge=0)
    attempt: int = Field(ge=1)
    round: int = Field(default=0, ge=0)
    """Compensations only: bumped each time a human asks to retry an escalated compensation."""


class SagaStepPlan(Payload):
    name: str
    kind: ActionKind
    action: str
    compensation: str | None = None


class SagaStarted(Payload):
    saga_id: str
    definition: str
    version: int = 1
    params: dict[str, Any] = Field(default_factory=dict)
    started_by: str = "anonymous"
    steps: list[SagaStepPlan]


class SagaStepStarted(Payload):
    """Attempt ``attempt`` of a step began: a task was created (``task_id``) or a command is requested."""

    saga_id: str
    step_index: int
    step_name: str
    attempt: int
    kind: ActionKind
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    task_id: str | None = None
    deadline: datetime | None = None


class SagaStepSucceeded(Payload):
    saga_id: str
    step_index: int
    step_name: str
    attempt: int
    output: dict[str, Any] = Field(default_factory=dict)


class SagaStepFailed(Payload):
    """An attempt failed or timed out; ``retry_at`` is set when another attempt is scheduled."""

    saga_id: str
    step_index: int
    step_name: str
    attempt: int
    error: str = ""
    timed_out: bool = False
    retry_at: datetime | None = None


class CompensationStarted(Payload):
    saga_id: str
    step_index: int
    step_name: str
    attempt: int
    round: int = 0
    kind: ActionKind
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    task_id: str | None = None
    deadline: datetime | None = None


class CompensationSucceeded(Payload):
    saga_id: str
    step_index: int
    step_name: str
    attempt: int
    round: int = 0
    manual: bool = False
    """True when a human said the effects were undone by hand."""
    output: dict[str, Any] = Field(default_factory=dict)


class CompensationFailed(Payload):
    saga_id: str
    step_index: int
    step_name: str
    attempt: int
    round: int = 0
    error: str = ""
    timed_out: bool = False
    retry_at: datetime | None = None


class CompensationEscalated(Payload):
    """A compensation failed after all its retries: a human must resolve it (the saga waits, forgets nothing)."""

    saga_id: str
    step_index: int
    step_name: str
    attempts: int
    error: str = ""
    steps_left: list[str] = Field(default_factory=list)
    prompt: str = ""


class CompensationResolved(Payload):
    saga_id: str
    step_index: int
    step_name: str
    resolution: Resolution
    resolved_by: str = "anonymous"
    comment: str = ""


class SagaAborted(Payload):
    """An abort was accepted: no further step starts. ``waiting_for`` names the step whose attempt in flight is
    awaited (until it answers or ``grace_until``) before the executed steps are compensated in reverse order."""

    saga_id: str
    reason: str = ""
    requested_by: str = "anonymous"
    waiting_for: str | None = None
    grace_until: datetime | None = None


class SagaCompleted(Payload):
    saga_id: str
    steps_succeeded: int = 0


class SagaCompensated(Payload):
    """A step failed for good and every executed step was undone, in reverse order."""

    saga_id: str
    failed_step: str | None = None
    compensated_steps: list[str] = Field(default_factory=list)
    reason: str = ""
    """v2: why the saga was rolled back when it was aborted (e.g. "goal cancelled"); empty when a step failed."""


class SagaFailed(Payload):
    """A step failed for good and there was nothing to undo (or the saga could not start)."""

    saga_id: str
    failed_step: str | None = None
    reason: str = ""


def _command(payload: type[Payload], description: str) -> EventSpec:
    return EventSpec(payload.__name__, 1, payload, SAGAS_COMMANDS, "command", OWNER, description)


def _event(payload: type[Payload], description: str, version: int = 1) -> EventSpec:
    return EventSpec(payload.__name__, version, payload, SAGAS_EVENTS, "event", OWNER, description)


SPECS: tuple[EventSpec, ...] = (
    _command(StartSaga, "Ask to run a saga definition."),
    _command(ReportSagaActionResult, "The outcome of a command step or compensation."),
    _command(ResolveCompensation, "A human resolves an escalated compensation."),
    _command(AbortSaga, "Stop a saga and compensate its executed steps (e.g. its goal was cancelled)."),
    _command(SagaTimeoutElapsed, "A scheduled deadline check for one attempt came due."),
    _command(SagaRetryDue, "A scheduled retry of a step or compensation came due."),
    _event(SagaStarted, "A saga run began."),
    _event(SagaStepStarted, "An attempt of a step began (a task or a command)."),
    _event(SagaStepSucceeded, "A step succeeded."),
    _event(SagaStepFailed, "An attempt of a step failed or timed out."),
    _event(CompensationStarted, "An attempt to undo an executed step began."),
    _event(CompensationSucceeded, "An executed step was undone."),
    _event(CompensationFailed, "An attempt to undo a step failed or timed out."),
    _event(CompensationEscalated, "A compensation failed for good: a human must resolve it."),
    _event(CompensationResolved, "A human resolved an escalated compensation."),
    _event(SagaAborted, "A saga was asked to stop: no further step starts; its executed steps will be undone."),
    _event(SagaCompleted, "Every step of a saga succeeded."),
    _event(SagaCompensated, "A saga failed or was aborted and every executed step was compensated.", version=2),
    _event(SagaFailed, "A saga failed with nothing to compensate."),
)
