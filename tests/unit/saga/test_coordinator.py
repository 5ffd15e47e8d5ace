"""The coordinator's decisions: state machine commands become tasks, requests, scheduled commands and saga events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.saga_coordinator.coordinator import Decision, Delayed, decide
from services.saga_coordinator.definitions import parse_definition
from shared.bus.consumer import RejectRecord
from shared.events.catalogue.sagas import (
    ReportSagaActionResult,
    ResolveCompensation,
    SagaRetryDue,
    SagaTimeoutElapsed,
    StartSaga,
)
from shared.events.catalogue.tasks import TaskAbandoned, TaskSucceeded
from shared.events.codec import new_event
from shared.events.envelope import Envelope, Payload

SAGA = "saga-1"
DEFINITION = parse_definition(
    {
        "name": "release",
        "steps": [
            {
                "name": "build",
                "action": {"operator": "build", "capability": "code"},
                "compensation": {"operator": "clean"},
            },
            {"name": "book", "action": {"command": "BookSlot"}, "compensation": {"command": "FreeSlot"}},
            {
                "name": "deploy",
                "action": {"operator": "deploy"},
                "retry": {"max_attempts": 2, "base_delay_seconds": 5, "jitter_ratio": 0},
                "timeout_seconds": 60,
            },
        ],
    }
)
DEFINITIONS = {"release": DEFINITION}


def command(payload: Payload, stream_id: str = SAGA) -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id=stream_id, correlation_id=stream_id)


def succeeded(task_id: str) -> Envelope[Any]:
    return command(TaskSucceeded(task_id=task_id, goal_id=SAGA, agent_id="a1", output={"ok": True}))


def abandoned(task_id: str, error_class: str = "crash") -> Envelope[Any]:
    return command(TaskAbandoned(task_id=task_id, goal_id=SAGA, attempt=3, error_class=error_class, reason="boom"))


def types(decision: Decision) -> list[str]:
    return [(f"later:{out.event.type}" if isinstance(out, Delayed) else out.type) for out in decision.emit]


def find(decision: Decision, event_type: str) -> Envelope[Any]:
    return next(out for out in decision.emit if not isinstance(out, Delayed) and out.type == event_type)


class Driver:
    def __init__(self) -> None:
        self.record: dict[str, Any] | None = None
        self.now = 1000.0

    def __call__(self, event: Envelope[Any]) -> Decision:
        self.now += 1
        decision = decide(self.record, event, self.now, DEFINITIONS)
        self.record = json.loads(json.dumps(decision.record)) if decision.record is not None else None
        return decision

    def start(self) -> Decision:
        return self(command(StartSaga(saga_id=SAGA, definition="release", params={"ref": "v1"})))


def test_start_creates_the_first_steps_task_for_the_saga_with_its_capability() -> None:
    decision = Driver().start()
    assert types(decision) == ["SagaStarted", "SagaStepStarted", "TaskCreated", "later:SagaTimeoutElapsed"]
    task = find(decision, "TaskCreated").payload
    assert (task.task_id, task.goal_id, task.operator, task.capability) == (f"{SAGA}/build/a1", SAGA, "build", "code")
    assert task.inputs == {"ref": "v1", "saga_id": SAGA, "saga_step": "build"}
    assert [s.name for s in find(decision, "SagaStarted").payload.steps] == ["build", "book", "deploy"]


def test_a_command_step_is_requested_and_answered_by_a_report() -> None:
    drive = Driver()
    drive.start()
    decision = drive(succeeded(f"{SAGA}/build/a1"))
    assert types(decision) == ["SagaStepSucceeded", "SagaStepStarted", "later:SagaTimeoutElapsed"]
    request = find(decision, "SagaStepStarted").payload
    assert (request.kind, request.action, request.task_id, request.params) == (
        "command",
        "BookSlot",
        None,
        {"ref": "v1"},
    )
    report = ReportSagaActionResult(saga_id=SAGA, phase="step", step_index=1, attempt=1, outcome="succeeded")
    assert types(drive(command(report))) == [
        "SagaStepSucceeded",
        "SagaStepStarted",
        "TaskCreated",
        "later:SagaTimeoutElapsed",
    ]


def test_duplicates_and_foreign_events_change_nothing() -> None:
    drive = Driver()
    drive.start()
    drive(succeeded(f"{SAGA}/build/a1"))
    before = drive.record
    assert drive(succeeded(f"{SAGA}/build/a1")).emit == []
    assert drive(succeeded("other-goal/build/a1")).emit == []
    assert drive(command(StartSaga(saga_id=SAGA, definition="release"))).emit == []
    assert drive.record == before
    assert decide(None, succeeded(f"{SAGA}/build/a1"), 0.0, DEFINITIONS).emit == []


def test_handling_the_same_input_twice_emits_the_same_ids() -> None:
    drive = Driver()
    drive.start()
    stored = drive.record
    event = succeeded(f"{SAGA}/build/a1")
    first = decide(stored, event, 2000.0, DEFINITIONS)
    again = decide(stored, event, 2005.0, DEFINITIONS)
    ids = [(o.event if isinstance(o, Delayed) else o).event_id for o in first.emit]
    assert ids == [(o.event if isinstance(o, Delayed) else o).event_id for o in again.emit]


def test_a_step_that_fails_for_good_compensates_the_executed_steps_in_reverse_order() -> None:
    drive = Driver()
    drive.start()
    drive(succeeded(f"{SAGA}/build/a1"))
    drive(command(ReportSagaActionResult(saga_id=SAGA, phase="step", step_index=1, attempt=1, outcome="succeeded")))
    failed = drive(abandoned(f"{SAGA}/deploy/a1", "auth"))  # not retryable
    assert types(failed)[:2] == ["SagaStepFailed", "CompensationStarted"]
    assert find(failed, "SagaStepFailed").payload.retry_at is None
    undo_booking = find(failed, "CompensationStarted").payload
    assert (undo_booking.step_name, undo_booking.kind, undo_booking.action) == ("book", "command", "FreeSlot")
    report = ReportSagaActionResult(saga_id=SAGA, phase="compensation", step_index=1, attempt=1, outcome="succeeded")
    undo_build = drive(command(report))
    assert types(undo_build) == [
        "CompensationSucceeded",
        "CompensationStarted",
        "TaskCreated",
        "later:SagaTimeoutElapsed",
    ]
    assert find(undo_build, "TaskCreated").payload.task_id == f"{SAGA}/build/c1"
    done = drive(succeeded(f"{SAGA}/build/c1"))
    assert types(done) == ["CompensationSucceeded", "SagaCompensated"]
    assert find(done, "SagaCompensated").payload.compensated_steps == ["book", "build"]
    assert find(done, "SagaCompensated").payload.failed_step == "deploy"


def test_a_timed_out_attempt_is_retried_after_the_backoff() -> None:
    drive = Driver()
    drive.start()
    drive(succeeded(f"{SAGA}/build/a1"))
    drive(command(ReportSagaActionResult(saga_id=SAGA, phase="step", step_index=1, attempt=1, outcome="succeeded")))
    timed_out = drive(command(SagaTimeoutElapsed(saga_id=SAGA, phase="step", step_index=2, attempt=1)))
    assert types(timed_out) == ["SagaStepFailed", "later:SagaRetryDue"]
    assert find(timed_out, "SagaStepFailed").payload.timed_out
    assert timed_out.emit[1].delay_s == 5.0
    retry = drive(command(SagaRetryDue(saga_id=SAGA, phase="step", step_index=2, attempt=2)))
    assert find(retry, "TaskCreated").payload.task_id == f"{SAGA}/deploy/a2"
    assert drive(succeeded(f"{SAGA}/deploy/a1")).emit == []  # the superseded attempt answered late
    assert types(drive(succeeded(f"{SAGA}/deploy/a2"))) == ["SagaStepSucceeded", "SagaCompleted"]


def test_an_escalated_compensation_waits_for_a_human_and_a_retry_starts_a_new_round() -> None:
    drive = Driver()
    drive.start()
    drive(succeeded(f"{SAGA}/build/a1"))
    drive(command(ReportSagaActionResult(saga_id=SAGA, phase="step", step_index=1, attempt=1, outcome="failed")))
    for _ in range(2):  # the step's default policy: 3 attempts
        attempt = drive.record["instance"]["steps"][1]["attempt"]
        drive(command(SagaRetryDue(saga_id=SAGA, phase="step", step_index=1, attempt=attempt + 1)))
        failure = ReportSagaActionResult(
            saga_id=SAGA, phase="step", step_index=1, attempt=attempt + 1, outcome="failed"
        )
        decision = drive(command(failure))
    assert find(decision, "CompensationStarted").payload.task_id == f"{SAGA}/build/c1"
    for attempt in range(1, 6):  # the default compensation policy: 5 attempts
        decision = drive(abandoned(f"{SAGA}/build/c{attempt}"))
        if attempt < 5:
            drive(command(SagaRetryDue(saga_id=SAGA, phase="compensation", step_index=0, attempt=attempt + 1)))
    assert types(decision) == ["CompensationFailed", "CompensationEscalated"]
    escalated = find(decision, "CompensationEscalated").payload
    assert (escalated.step_name, escalated.attempts, escalated.steps_left) == ("build", 5, ["build"])
    resolve = ResolveCompensation(saga_id=SAGA, step_index=0, resolution="retry", resolved_by="ops")
    retried = drive(command(resolve))
    assert types(retried)[:2] == ["CompensationResolved", "CompensationStarted"]
    assert find(retried, "TaskCreated").payload.task_id == f"{SAGA}/build/r1c1"
    assert drive(succeeded(f"{SAGA}/build/c1")).emit == []  # an answer from the old round
    assert types(drive(succeeded(f"{SAGA}/build/r1c1"))) == ["CompensationSucceeded", "SagaCompensated"]


def test_a_manual_resolution_counts_as_compensated() -> None:
    drive = Driver()
    drive.start()
    drive(succeeded(f"{SAGA}/build/a1"))
    for attempt in range(1, 4):
        report = ReportSagaActionResult(
            saga_id=SAGA, phase="step", step_index=1, attempt=attempt, outcome="failed", retryable=False
        )
        decision = drive(command(report))
        if decision.emit:
            break
    for attempt in range(1, 6):
        decision = drive(abandoned(f"{SAGA}/build/c{attempt}"))
        drive(command(SagaRetryDue(saga_id=SAGA, phase="compensation", step_index=0, attempt=attempt + 1)))
    resolve = ResolveCompensation(saga_id=SAGA, step_index=0, resolution="compensated_manually")
    decision = drive(command(resolve))
    assert types(decision) == ["CompensationResolved", "CompensationSucceeded", "SagaCompensated"]
    assert find(decision, "CompensationSucceeded").payload.manual


def test_an_unknown_definition_fails_the_saga_with_the_reason() -> None:
    decision = decide(None, command(StartSaga(saga_id=SAGA, definition="nope")), 0.0, DEFINITIONS)
    assert types(decision) == ["SagaFailed"]
    assert "no saga definition named 'nope'" in find(decision, "SagaFailed").payload.reason
    assert decide(decision.record, succeeded(f"{SAGA}/build/a1"), 0.0, DEFINITIONS).emit == []


def test_an_inline_definition_is_used_when_given() -> None:
    body = {"name": "tiny", "steps": [{"name": "only", "action": {"operator": "noop"}}]}
    start = StartSaga(saga_id=SAGA, definition="tiny", definition_body=body)
    decision = decide(None, command(start), 0.0, {})
    assert find(decision, "TaskCreated").payload.capability == "noop"
    mismatched = StartSaga(saga_id=SAGA, definition="other", definition_body=body)
    assert types(decide(None, command(mismatched), 0.0, {})) == ["SagaFailed"]


def test_commands_that_can_never_apply_are_rejected_for_the_dead_letter_topic() -> None:
    drive = Driver()
    drive.start()
    report = ReportSagaActionResult(saga_id=SAGA, phase="step", step_index=0, attempt=1, outcome="succeeded")
    with pytest.raises(RejectRecord, match="not a command"):
        drive(command(report))  # step 0 is an operator: its task answers
    beyond = ReportSagaActionResult(saga_id=SAGA, phase="step", step_index=9, attempt=1, outcome="succeeded")
    with pytest.raises(RejectRecord, match="has no step 9"):
        drive(command(beyond))
    with pytest.raises(RejectRecord, match="has no step 7"):
        drive(command(ResolveCompensation(saga_id=SAGA, step_index=7, resolution="retry")))
    with pytest.raises(RejectRecord) as unknown:
        decide(None, command(ResolveCompensation(saga_id="nobody", step_index=0, resolution="retry")), 0.0, {})
    assert unknown.value.reason == "unknown_saga"
    resolve = ResolveCompensation(saga_id=SAGA, step_index=0, resolution="retry")
    assert drive(command(resolve)).emit == [], "nothing is escalated: a resolution changes nothing"
