"""The coordinator's decisions: (stored saga record, incoming command or task event, now) -> (new record, events).

Pure apart from the envelopes it builds. The state machine (`saga.SagaInstance`) decides; this module turns
its commands into events: a step or compensation attempt becomes a TaskCreated for an agent (task id
``<saga>/<step>/a<attempt>``, compensations ``<saga>/<step>/c<attempt>``) or a ``kind="command"`` request
that another service answers with ReportSagaActionResult; backoff and deadlines become scheduled commands.
Every emitted event id derives from the saga, the step, the attempt and what happened, so handling an input
twice (redelivery, a replay after a crash) emits the very same ids, and an input the saga is not waiting for
changes nothing and emits nothing. A command that can never apply (a report for a step that is not a
command, a step that does not exist, a saga nobody started) raises ``RejectRecord``: it is dead-lettered.

A saga the orchestrator started for a goal's steps (its id names the goal) is also announced on the goal's
partition (``GoalSagaStarted``), for the goal's timeline. ``AbortSaga`` (from the orchestrator when the goal is
cancelled, or by hand) stops a saga (``SagaAborted``): an attempt in flight is awaited up to
``ABORT_GRACE_SECONDS``, then the executed steps are compensated in reverse order and the saga ends compensated
with the abort's reason.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.orchestrator.saga_groups import parse_saga_id
from services.saga_coordinator.definitions import SagaDefinitionError, parse_definition
from services.saga_coordinator.saga import (
    EscalateCompensation,
    Outcome,
    RunStep,
    SagaAbortAccepted,
    SagaCommand,
    SagaDefinition,
    SagaFinished,
    SagaInstance,
    SagaStatus,
    ScheduleCompensationRetry,
    ScheduleStepRetry,
    StartCompensation,
)
from shared.bus.consumer import RejectRecord
from shared.bus.topics import SAGAS_COMMANDS
from shared.events.catalogue.goals import GoalSagaStarted
from shared.events.catalogue.sagas import (
    CompensationEscalated,
    CompensationFailed,
    CompensationResolved,
    CompensationStarted,
    CompensationSucceeded,
    SagaAborted,
    SagaCompensated,
    SagaCompleted,
    SagaFailed,
    SagaRetryDue,
    SagaStarted,
    SagaStepFailed,
    SagaStepPlan,
    SagaStepStarted,
    SagaStepSucceeded,
    SagaTimeoutElapsed,
)
from shared.events.catalogue.tasks import TaskCreated
from shared.events.codec import new_event
from shared.events.envelope import DERIVED_EVENT_NAMESPACE, Envelope, Payload

PRODUCER = "saga-coordinator"
#: Abandoned tasks with these error classes will not do better on another attempt.
NOT_RETRYABLE_ERRORS = frozenset({"auth", "budget"})
#: Commands sent by people or other services: about a saga that does not exist, they are dead-lettered.
HUMAN_COMMANDS = frozenset({"ReportSagaActionResult", "ResolveCompensation", "AbortSaga"})
#: How long an aborted saga waits for the attempt in flight before treating it as timed out and compensating.
ABORT_GRACE_SECONDS = 60.0

DefinitionLookup = Mapping[str, SagaDefinition]


@dataclass(frozen=True)
class Delayed:
    """An event to deliver later through the scheduler."""

    event: Envelope[Any]
    delay_s: float


@dataclass
class Decision:
    record: dict[str, Any] | None
    emit: list[Envelope[Any] | Delayed] = field(default_factory=list)


def stable_id(saga_id: str, what: str) -> uuid.UUID:
    """An event id that depends only on what the event is about."""
    return uuid.uuid5(DERIVED_EVENT_NAMESPACE, f"saga:{saga_id}:{what}")


def step_task_id(saga_id: str, step: str, attempt: int) -> str:
    return f"{saga_id}/{step}/a{attempt}"


def compensation_task_id(saga_id: str, step: str, attempt: int, round_: int = 0) -> str:
    return f"{saga_id}/{step}/c{attempt}" if round_ == 0 else f"{saga_id}/{step}/r{round_}c{attempt}"


def _at(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def _jitter(*parts: object) -> float:
    return random.Random(":".join(str(p) for p in parts)).random()


@dataclass
class SagaRecord:
    """The value of the coordinator's table for one saga: the state machine plus what the run was given."""

    instance: SagaInstance
    params: dict[str, Any]
    started_by: str
    rounds: dict[int, int] = field(default_factory=dict)
    """Compensation rounds per step index (a human's "retry" of an escalated compensation starts a new one)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance.to_dict(),
            "params": self.params,
            "started_by": self.started_by,
            "rounds": {str(k): v for k, v in self.rounds.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SagaRecord:
        return cls(
            instance=SagaInstance.from_dict(data["instance"]),
            params=dict(data.get("params", {})),
            started_by=data.get("started_by", "anonymous"),
            rounds={int(k): int(v) for k, v in data.get("rounds", {}).items()},
        )

    def round_of(self, step_index: int) -> int:
        return self.rounds.get(step_index, 0)


class _Out:
    """Collects the events one input causes, each with a stable id."""

    def __init__(self, cause: Envelope[Any], saga_id: str) -> None:
        self.cause, self.saga_id = cause, saga_id
        self.emit: list[Envelope[Any] | Delayed] = []

    def envelope(self, payload: Payload, what: str, stream_id: str | None = None) -> Envelope[Any]:
        return new_event(
            payload,
            producer=PRODUCER,
            stream_id=stream_id or self.saga_id,
            correlation_id=self.saga_id,
            causation_id=self.cause.event_id,
            event_id=stable_id(self.saga_id, what),
        )

    def now(self, payload: Payload, what: str, stream_id: str | None = None) -> None:
        self.emit.append(self.envelope(payload, what, stream_id))

    def later(self, payload: Payload, what: str, delay_s: float) -> None:
        self.emit.append(Delayed(self.envelope(payload, what), max(delay_s, 0.0)))


def decide(
    stored: Mapping[str, Any] | None, event: Envelope[Any], now: float, definitions: DefinitionLookup
) -> Decision:
    """Apply one command or task event to a saga."""
    if event.type == "StartSaga":
        return _start(stored, event, now, definitions)
    if stored is None or "instance" not in stored:
        if event.type in HUMAN_COMMANDS:
            state = "could not start" if stored else "is unknown"
            raise RejectRecord("unknown_saga", f"{event.type} for saga {event.stream_id!r}, which {state}")
        return Decision(dict(stored) if stored else None)  # not a saga we run (e.g. a goal's task)
    record = SagaRecord.from_dict(stored)
    out = _Out(event, record.instance.saga_id)
    handler = _HANDLERS.get(event.type)
    if handler is None or record.instance.status.terminal:
        return Decision(dict(stored))
    if not handler(record, event, now, out):
        return Decision(dict(stored))
    return Decision(record.to_dict(), out.emit)


def _start(stored: Mapping[str, Any] | None, e: Envelope[Any], now: float, definitions: DefinitionLookup) -> Decision:
    p = e.payload
    if stored is not None:
        return Decision(dict(stored))  # a repeated or redelivered start: the saga already exists
    out = _Out(e, p.saga_id)
    try:
        definition = _resolve(p.definition, p.definition_body, definitions)
    except SagaDefinitionError as error:
        out.now(SagaFailed(saga_id=p.saga_id, reason=f"cannot start: {error}"), "rejected")
        return Decision({"rejected": str(error)}, out.emit)
    record = SagaRecord(SagaInstance(p.saga_id, definition), dict(p.params), p.started_by)
    out.now(
        SagaStarted(
            saga_id=p.saga_id,
            definition=definition.name,
            version=definition.version,
            params=dict(p.params),
            started_by=p.started_by,
            steps=[
                SagaStepPlan(
                    name=step.name,
                    kind=step.action.kind,
                    action=step.action.name,
                    compensation=step.compensation.name if step.compensation else None,
                )
                for step in definition.steps
            ],
        ),
        "started",
    )
    goal = parse_saga_id(p.saga_id)
    if goal is not None:
        started = GoalSagaStarted(goal_id=goal[0], saga_id=p.saga_id, saga=goal[2])
        out.now(started, "goal-saga-started", stream_id=goal[0])
    _apply(record, record.instance.start(now), now, out)
    return Decision(record.to_dict(), out.emit)


def _resolve(name: str, body: Mapping[str, Any] | None, definitions: DefinitionLookup) -> SagaDefinition:
    if body is not None:
        definition = parse_definition(body, f"inline definition {name!r}")
        if definition.name != name:
            raise SagaDefinitionError(f"inline definition is named {definition.name!r}, not {name!r}")
        return definition
    if name not in definitions:
        known = ", ".join(sorted(definitions)) or "none"
        raise SagaDefinitionError(f"no saga definition named {name!r} (known: {known})")
    return definitions[name]


# -- inputs -----------------------------------------------------------------------------------------------------


def _locate_task(record: SagaRecord, task_id: str) -> tuple[str, int, int, int] | None:
    """(phase, step index, attempt, round) of one of this saga's tasks, or None."""
    saga_id = record.instance.saga_id
    if not task_id.startswith(saga_id + "/"):
        return None
    step_name, _, tag = task_id[len(saga_id) + 1 :].partition("/")
    names = [step.name for step in record.instance.definition.steps]
    if step_name not in names:
        return None
    index = names.index(step_name)
    try:
        if tag.startswith("a"):
            return "step", index, int(tag[1:]), 0
        round_ = 0
        if tag.startswith("r"):
            round_text, _, tag = tag[1:].partition("c")
            round_, tag = int(round_text), "c" + tag
        if tag.startswith("c"):
            return "compensation", index, int(tag[1:]), round_
    except ValueError:
        return None
    return None


def _task_result(outcome: Outcome) -> Any:
    def handle(record: SagaRecord, e: Envelope[Any], now: float, out: _Out) -> bool:
        found = _locate_task(record, e.payload.task_id)
        if found is None:
            return False
        phase, index, attempt, round_ = found
        error, retryable, output = "", True, {}
        if outcome is Outcome.SUCCEEDED:
            output = dict(e.payload.output)
        else:
            error = f"{e.payload.error_class}: {e.payload.reason}"
            retryable = e.payload.error_class not in NOT_RETRYABLE_ERRORS
        return _result(record, phase, index, attempt, round_, outcome, now, out, error, retryable, output)

    return handle


def _reported(record: SagaRecord, e: Envelope[Any], now: float, out: _Out) -> bool:
    p = e.payload
    steps = record.instance.definition.steps
    if not 0 <= p.step_index < len(steps):
        raise RejectRecord("invalid_report", f"saga {p.saga_id} has no step {p.step_index}")
    action = steps[p.step_index].action if p.phase == "step" else steps[p.step_index].compensation
    if action is None or action.kind != "command":
        what = "step" if p.phase == "step" else "compensation"
        raise RejectRecord(
            "invalid_report",
            f"the {what} of step {steps[p.step_index].name!r} of saga {p.saga_id} is not a command; "
            "operators answer through their task's events",
        )
    outcome = Outcome.SUCCEEDED if p.outcome == "succeeded" else Outcome.FAILED
    return _result(
        record, p.phase, p.step_index, p.attempt, p.round, outcome, now, out, p.error, p.retryable, dict(p.output)
    )


def _timeout(record: SagaRecord, e: Envelope[Any], now: float, out: _Out) -> bool:
    p = e.payload
    error = "deadline passed" if record.instance.abort_reason is None else "no answer before the abort's grace ended"
    return _result(record, p.phase, p.step_index, p.attempt, p.round, Outcome.TIMED_OUT, now, out, error)


def _abort(record: SagaRecord, e: Envelope[Any], now: float, out: _Out) -> bool:
    p = e.payload
    commands = record.instance.abort(p.reason or f"aborted by {p.requested_by}", now, ABORT_GRACE_SECONDS)
    _apply(record, commands, now, out, requested_by=p.requested_by)
    return bool(commands)


def _retry_due(record: SagaRecord, e: Envelope[Any], now: float, out: _Out) -> bool:
    p = e.payload
    instance = record.instance
    if p.phase == "step":
        commands = instance.on_step_retry_due(p.step_index, p.attempt, now)
    elif p.round == record.round_of(p.step_index):
        commands = instance.on_compensation_retry_due(p.step_index, p.attempt, now)
    else:
        return False
    _apply(record, commands, now, out)
    return bool(commands)


def _resolved(record: SagaRecord, e: Envelope[Any], now: float, out: _Out) -> bool:
    p = e.payload
    instance = record.instance
    if not 0 <= p.step_index < len(instance.steps):
        raise RejectRecord("invalid_resolution", f"saga {p.saga_id} has no step {p.step_index}")
    if instance.status is not SagaStatus.COMPENSATION_ESCALATED:
        return False  # nothing escalated (or a duplicate of a resolution already applied)
    escalated_round = record.round_of(p.step_index)
    if p.resolution == "retry":
        record.rounds[p.step_index] = escalated_round + 1
    commands = instance.resolve_compensation(p.step_index, p.resolution, now)
    if not commands:
        record.rounds[p.step_index] = escalated_round
        return False
    name = instance.definition.steps[p.step_index].name
    what = f"comp/{p.step_index}/r{escalated_round}/resolved"
    resolved = CompensationResolved(
        saga_id=instance.saga_id,
        step_index=p.step_index,
        step_name=name,
        resolution=p.resolution,
        resolved_by=p.resolved_by,
        comment=p.comment,
    )
    out.now(resolved, what)
    if p.resolution == "compensated_manually":
        attempt = instance.steps[p.step_index].compensation_attempt
        done = CompensationSucceeded(
            saga_id=instance.saga_id,
            step_index=p.step_index,
            step_name=name,
            attempt=attempt,
            round=escalated_round,
            manual=True,
        )
        out.now(done, f"comp/{p.step_index}/r{escalated_round}/manual")
    _apply(record, commands, now, out)
    return True


def _result(
    record: SagaRecord,
    phase: str,
    index: int,
    attempt: int,
    round_: int,
    outcome: Outcome,
    now: float,
    out: _Out,
    error: str = "",
    retryable: bool = True,
    output: dict[str, Any] | None = None,
) -> bool:
    """Feed one attempt's result to the state machine; emit what it means if the saga was waiting for it."""
    instance = record.instance
    saga_id = instance.saga_id
    if phase == "step":
        jitter = _jitter(saga_id, index, attempt)
        commands = instance.on_step_result(
            index, attempt, outcome, now, error=error, retryable=retryable, jitter=jitter
        )
    elif round_ == record.round_of(index):
        jitter = _jitter(saga_id, index, "c", round_, attempt)
        commands = instance.on_compensation_result(index, attempt, outcome, now, error=error, jitter=jitter)
    else:
        return False
    if not commands:
        return False
    name = instance.definition.steps[index].name
    retry_at = next(
        (c.at for c in commands if isinstance(c, ScheduleStepRetry | ScheduleCompensationRetry)),
        None,
    )
    error = error or outcome.value
    timed_out = outcome is Outcome.TIMED_OUT
    if phase == "step":
        if outcome is Outcome.SUCCEEDED:
            payload: Payload = SagaStepSucceeded(
                saga_id=saga_id, step_index=index, step_name=name, attempt=attempt, output=output or {}
            )
        else:
            payload = SagaStepFailed(
                saga_id=saga_id,
                step_index=index,
                step_name=name,
                attempt=attempt,
                error=error,
                timed_out=timed_out,
                retry_at=_at(retry_at),
            )
        out.now(payload, f"step/{index}/a{attempt}/{outcome.value}")
    else:
        if outcome is Outcome.SUCCEEDED:
            payload = CompensationSucceeded(
                saga_id=saga_id, step_index=index, step_name=name, attempt=attempt, round=round_, output=output or {}
            )
        else:
            payload = CompensationFailed(
                saga_id=saga_id,
                step_index=index,
                step_name=name,
                attempt=attempt,
                round=round_,
                error=error,
                timed_out=timed_out,
                retry_at=_at(retry_at),
            )
        out.now(payload, f"comp/{index}/r{round_}/c{attempt}/{outcome.value}")
    _apply(record, commands, now, out)
    return True


_HANDLERS = {
    "TaskSucceeded": _task_result(Outcome.SUCCEEDED),
    "TaskAbandoned": _task_result(Outcome.FAILED),
    "ReportSagaActionResult": _reported,
    "SagaTimeoutElapsed": _timeout,
    "SagaRetryDue": _retry_due,
    "ResolveCompensation": _resolved,
    "AbortSaga": _abort,
}
#: Every type ``decide`` acts on; the coordinator skips the rest of its topics before decoding them.
HANDLED_TYPES = frozenset({"StartSaga", *_HANDLERS})


# -- state machine commands -> events ---------------------------------------------------------------------------


def _apply(
    record: SagaRecord, commands: list[SagaCommand], now: float, out: _Out, requested_by: str = "anonymous"
) -> None:
    for command in commands:
        if isinstance(command, SagaAbortAccepted):
            _aborted(record, command, now, out, requested_by)
        elif isinstance(command, RunStep):
            _run_step(record, command, now, out)
        elif isinstance(command, StartCompensation):
            _start_compensation(record, command, now, out)
        elif isinstance(command, ScheduleStepRetry):
            due = SagaRetryDue(
                saga_id=command.saga_id, phase="step", step_index=command.step_index, attempt=command.attempt
            )
            out.later(due, f"step/{command.step_index}/a{command.attempt}/retry-due", command.at - now)
        elif isinstance(command, ScheduleCompensationRetry):
            round_ = record.round_of(command.step_index)
            due = SagaRetryDue(
                saga_id=command.saga_id,
                phase="compensation",
                step_index=command.step_index,
                attempt=command.attempt,
                round=round_,
            )
            out.later(due, f"comp/{command.step_index}/r{round_}/c{command.attempt}/retry-due", command.at - now)
        elif isinstance(command, EscalateCompensation):
            _escalate(record, command, out)
        elif isinstance(command, SagaFinished):
            _finish(record, command, out)


def _run_step(record: SagaRecord, command: RunStep, now: float, out: _Out) -> None:
    saga_id, index, attempt, action = command.saga_id, command.step_index, command.attempt, command.action
    step = record.instance.definition.steps[index]
    task_id = step_task_id(saga_id, command.step_name, attempt) if action.kind == "operator" else None
    started = SagaStepStarted(
        saga_id=saga_id,
        step_index=index,
        step_name=command.step_name,
        attempt=attempt,
        kind=action.kind,
        action=action.name,
        params={**record.params, **dict(action.params)},
        task_id=task_id,
        deadline=_at(command.deadline),
    )
    out.now(started, f"step/{index}/a{attempt}/started")
    if task_id is not None:
        out.now(_task(record, task_id, command.step_name, action, step.timeout_seconds), f"task/{task_id}")
    if command.deadline is not None:
        elapsed = SagaTimeoutElapsed(saga_id=saga_id, phase="step", step_index=index, attempt=attempt)
        out.later(elapsed, f"step/{index}/a{attempt}/deadline", command.deadline - now)


def _start_compensation(record: SagaRecord, command: StartCompensation, now: float, out: _Out) -> None:
    saga_id, index, attempt, action = command.saga_id, command.step_index, command.attempt, command.action
    step = record.instance.definition.steps[index]
    round_ = record.round_of(index)
    task_id = compensation_task_id(saga_id, command.step_name, attempt, round_) if action.kind == "operator" else None
    started = CompensationStarted(
        saga_id=saga_id,
        step_index=index,
        step_name=command.step_name,
        attempt=attempt,
        round=round_,
        kind=action.kind,
        action=action.name,
        params={**record.params, **dict(action.params)},
        task_id=task_id,
        deadline=_at(command.deadline),
    )
    out.now(started, f"comp/{index}/r{round_}/c{attempt}/started")
    if task_id is not None:
        timeout = step.compensation_timeout_seconds
        out.now(_task(record, task_id, command.step_name, action, timeout), f"task/{task_id}")
    if command.deadline is not None:
        elapsed = SagaTimeoutElapsed(
            saga_id=saga_id, phase="compensation", step_index=index, attempt=attempt, round=round_
        )
        out.later(elapsed, f"comp/{index}/r{round_}/c{attempt}/deadline", command.deadline - now)


def _task(record: SagaRecord, task_id: str, step_name: str, action: Any, timeout_s: float | None) -> TaskCreated:
    return TaskCreated(
        task_id=task_id,
        goal_id=record.instance.saga_id,
        operator=action.name,
        capability=action.required_capability,
        inputs={**record.params, **dict(action.params), "saga_id": record.instance.saga_id, "saga_step": step_name},
        timeout_s=timeout_s,
        reply_to=SAGAS_COMMANDS,
    )


def _aborted(record: SagaRecord, command: SagaAbortAccepted, now: float, out: _Out, requested_by: str) -> None:
    waiting = command.waiting_for
    name = record.instance.definition.steps[waiting].name if waiting is not None else None
    accepted = SagaAborted(
        saga_id=command.saga_id,
        reason=command.reason,
        requested_by=requested_by,
        waiting_for=name,
        grace_until=_at(command.until),
    )
    out.now(accepted, "aborted")
    if waiting is not None and command.attempt is not None and command.until is not None:
        grace = SagaTimeoutElapsed(saga_id=command.saga_id, phase="step", step_index=waiting, attempt=command.attempt)
        out.later(grace, f"step/{waiting}/a{command.attempt}/abort-grace", command.until - now)


def _escalate(record: SagaRecord, command: EscalateCompensation, out: _Out) -> None:
    round_ = record.round_of(command.step_index)
    left = ", ".join(command.steps_left)
    escalated = CompensationEscalated(
        saga_id=command.saga_id,
        step_index=command.step_index,
        step_name=command.step_name,
        attempts=command.attempts,
        error=command.error,
        steps_left=list(command.steps_left),
        prompt=(
            f"saga {command.saga_id}: undoing step '{command.step_name}' failed {command.attempts} time(s) "
            f"({command.error}); still to undo: {left}. Undo it by hand and resolve as compensated_manually, "
            "or resolve as retry."
        ),
    )
    out.now(escalated, f"comp/{command.step_index}/r{round_}/escalated")


def _finish(record: SagaRecord, command: SagaFinished, out: _Out) -> None:
    instance = record.instance
    saga_id = instance.saga_id
    names = [step.name for step in instance.definition.steps]
    failed = names[instance.failed_step] if instance.failed_step is not None else None
    if command.status is SagaStatus.COMPLETED:
        payload: Payload = SagaCompleted(saga_id=saga_id, steps_succeeded=len(names))
    elif command.status is SagaStatus.COMPENSATED:
        compensated = [names[i] for i in instance.compensation_order]
        reason = instance.abort_reason or ""
        payload = SagaCompensated(saga_id=saga_id, failed_step=failed, compensated_steps=compensated, reason=reason)
    else:
        error = instance.steps[instance.failed_step].last_error if instance.failed_step is not None else ""
        payload = SagaFailed(saga_id=saga_id, failed_step=failed, reason=f"step '{failed}' failed: {error}")
    out.now(payload, "finished")
