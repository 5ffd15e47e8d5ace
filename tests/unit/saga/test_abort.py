"""Aborting a saga (its goal was cancelled): no further step starts, the attempt in flight is awaited up to a grace
period, executed steps are compensated in reverse order, and the saga ends compensated with the abort's reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.saga_coordinator.coordinator import ABORT_GRACE_SECONDS, Decision, Delayed, decide
from services.saga_coordinator.definitions import parse_definition
from services.saga_coordinator.saga import (
    Outcome,
    RunStep,
    SagaAbortAccepted,
    SagaFinished,
    SagaInstance,
    SagaStatus,
    StartCompensation,
)
from shared.bus.consumer import RejectRecord
from shared.events.catalogue.sagas import AbortSaga, SagaTimeoutElapsed, StartSaga
from shared.events.catalogue.tasks import TaskSucceeded
from shared.events.codec import new_event
from shared.events.envelope import Envelope, Payload

DEFINITION = parse_definition(
    {
        "name": "three",
        "steps": [
            {"name": "one", "action": {"operator": "a"}, "compensation": {"operator": "undo_a"}},
            {"name": "two", "action": {"operator": "b"}, "compensation": {"operator": "undo_b"}},
            {
                "name": "three",
                "action": {"operator": "c"},
                "compensation": {"operator": "undo_c"},
                "retry": {"max_attempts": 3, "base_delay_seconds": 5, "jitter_ratio": 0},
            },
        ],
    }
)
GOAL = "goal-1"
SAGA = f"{GOAL}/saga/r0/release"


def running(steps_done: int) -> SagaInstance:
    instance = SagaInstance("s1", DEFINITION)
    instance.start(0.0)
    for index in range(steps_done):
        instance.on_step_result(index, 1, Outcome.SUCCEEDED, 1.0 + index)
    return instance


def test_an_abort_awaits_the_attempt_in_flight_then_undoes_every_executed_step_in_reverse() -> None:
    instance = running(2)

    accepted = instance.abort("goal cancelled", 10.0, grace_seconds=30.0)
    assert accepted == [SagaAbortAccepted("s1", "goal cancelled", waiting_for=2, attempt=1, until=40.0)]
    assert instance.abort("goal cancelled", 11.0, grace_seconds=30.0) == [], "a repeated abort changes nothing"

    # The step in flight succeeds: it counts as executed, but no further step (nor retry) starts.
    commands = instance.on_step_result(2, 1, Outcome.SUCCEEDED, 12.0)
    assert [type(c) for c in commands] == [StartCompensation] and commands[0].step_index == 2
    for index in (2, 1, 0):
        commands = instance.on_compensation_result(index, 1, Outcome.SUCCEEDED, 13.0)
    assert commands == [SagaFinished("s1", SagaStatus.COMPENSATED)]
    assert instance.compensation_order == [2, 1, 0]
    assert instance.failed_step is None and instance.abort_reason == "goal cancelled"


def test_an_attempt_in_flight_that_fails_or_times_out_is_not_retried_nor_undone() -> None:
    instance = running(1)
    instance.abort("goal cancelled", 10.0, grace_seconds=30.0)

    commands = instance.on_step_result(1, 1, Outcome.TIMED_OUT, 40.0)

    assert [(type(c), getattr(c, "step_index", None)) for c in commands] == [(StartCompensation, 0)]
    assert instance.on_compensation_result(0, 1, Outcome.SUCCEEDED, 41.0) == [
        SagaFinished("s1", SagaStatus.COMPENSATED)
    ]
    assert instance.compensation_order == [0]


def test_an_abort_during_a_retry_backoff_stops_at_once_and_with_nothing_done_still_ends_compensated() -> None:
    instance = running(2)
    instance.on_step_result(2, 1, Outcome.FAILED, 5.0)  # retry scheduled
    commands = instance.abort("goal cancelled", 6.0, grace_seconds=30.0)
    assert isinstance(commands[0], SagaAbortAccepted) and commands[0].waiting_for is None
    assert [(type(c), c.step_index) for c in commands[1:]] == [(StartCompensation, 1)]
    assert instance.on_step_retry_due(2, 2, 11.0) == [], "the scheduled retry never runs"

    nothing_done = running(0)
    nothing_done.on_step_result(0, 1, Outcome.FAILED, 5.0)
    assert nothing_done.abort("goal cancelled", 6.0, 30.0)[1:] == [SagaFinished("s1", SagaStatus.COMPENSATED)]


def test_a_saga_already_compensating_or_finished_ignores_an_abort() -> None:
    failing = running(1)
    failing.on_step_result(1, 1, Outcome.FAILED, 5.0, retryable=False)
    assert failing.status is SagaStatus.COMPENSATING
    assert failing.abort("goal cancelled", 6.0, 30.0) == [] and failing.abort_reason is None

    done = running(3)
    assert done.status is SagaStatus.COMPLETED and done.abort("goal cancelled", 6.0, 30.0) == []


def test_the_abort_survives_serialisation() -> None:
    instance = running(1)
    instance.abort("goal cancelled", 10.0, grace_seconds=30.0)
    restored = SagaInstance.from_dict(json.loads(json.dumps(instance.to_dict())))
    assert restored.abort_reason == "goal cancelled"
    assert isinstance(restored.on_step_result(1, 1, Outcome.SUCCEEDED, 12.0)[0], StartCompensation)
    legacy = instance.to_dict()
    del legacy["abort_reason"]
    assert SagaInstance.from_dict(legacy).abort_reason is None, "records stored before aborts existed still load"


# -- the coordinator --------------------------------------------------------------------------------------------


def envelope(payload: Payload, stream_id: str) -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id=stream_id, correlation_id=stream_id)


class Coordinator:
    def __init__(self) -> None:
        self.record: dict[str, Any] | None = None
        self.now = 1000.0

    def __call__(self, payload: Payload) -> Decision:
        self.now += 1
        decision = decide(self.record, envelope(payload, SAGA), self.now, {"three": DEFINITION})
        self.record = json.loads(json.dumps(decision.record)) if decision.record is not None else None
        return decision


def emitted(decision: Decision) -> list[tuple[str, Any]]:
    return [
        (f"later:{out.event.type}", out.delay_s) if isinstance(out, Delayed) else (out.type, out.stream_id)
        for out in decision.emit
    ]


def test_a_goal_saga_is_announced_on_the_goal_stream_when_it_starts() -> None:
    saga = Coordinator()
    started = saga(StartSaga(saga_id=SAGA, definition="three"))
    (announced,) = [out for out in started.emit if not isinstance(out, Delayed) and out.type == "GoalSagaStarted"]
    assert announced.stream_id == GOAL
    assert (announced.payload.goal_id, announced.payload.saga_id, announced.payload.saga) == (GOAL, SAGA, "release")
    other = decide(None, envelope(StartSaga(saga_id="s-2", definition="three"), "s-2"), 1.0, {"three": DEFINITION})
    assert "GoalSagaStarted" not in [getattr(out, "type", "") for out in other.emit], "not a goal's saga"


def test_the_coordinator_aborts_a_saga_and_ends_it_compensated_with_the_reason() -> None:
    saga = Coordinator()
    saga(StartSaga(saga_id=SAGA, definition="three"))
    saga(TaskSucceeded(task_id=f"{SAGA}/one/a1", goal_id=SAGA, agent_id="x"))

    aborted = saga(AbortSaga(saga_id=SAGA, reason="goal cancelled", requested_by="saga-coordinator"))
    assert emitted(aborted) == [("SagaAborted", SAGA), ("later:SagaTimeoutElapsed", ABORT_GRACE_SECONDS)]
    (accepted,) = [out for out in aborted.emit if not isinstance(out, Delayed)]
    assert (accepted.payload.reason, accepted.payload.waiting_for) == ("goal cancelled", "two")
    assert saga(AbortSaga(saga_id=SAGA, reason="goal cancelled")).emit == [], "a duplicate does nothing"

    # The grace passes without an answer from step two: only step one is undone.
    grace = saga(SagaTimeoutElapsed(saga_id=SAGA, phase="step", step_index=1, attempt=1))
    started = [out for out in grace.emit if not isinstance(out, Delayed) and out.type == "CompensationStarted"]
    assert [out.payload.step_name for out in started] == ["one"]
    assert "SagaStepStarted" not in [getattr(out, "type", "") for out in grace.emit]
    late = saga(TaskSucceeded(task_id=f"{SAGA}/two/a1", goal_id=SAGA, agent_id="x"))
    assert late.emit == [], "a late answer changes nothing"

    ended = saga(TaskSucceeded(task_id=f"{SAGA}/one/c1", goal_id=SAGA, agent_id="x"))
    (compensated,) = [out for out in ended.emit if out.type == "SagaCompensated"]
    assert compensated.payload.compensated_steps == ["one"]
    assert (compensated.payload.reason, compensated.payload.failed_step) == ("goal cancelled", None)


def test_an_abort_for_a_saga_nobody_started_is_dead_lettered() -> None:
    with pytest.raises(RejectRecord):
        decide(None, envelope(AbortSaga(saga_id="ghost"), "ghost"), 1.0, {})


def test_only_a_running_step_is_ever_started_again_never_after_an_abort() -> None:
    instance = running(1)
    instance.abort("goal cancelled", 10.0, 30.0)
    commands = instance.on_step_result(1, 1, Outcome.SUCCEEDED, 11.0)
    assert not any(isinstance(c, RunStep) for c in commands)
