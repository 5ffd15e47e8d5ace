"""Laws of the saga state machine, for any definition and any sequence of results."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from services.saga_coordinator.retry_policy import RetryPolicy
from services.saga_coordinator.saga import (
    EscalateCompensation,
    Outcome,
    RunStep,
    SagaAction,
    SagaDefinition,
    SagaFinished,
    SagaInstance,
    SagaStatus,
    SagaStep,
    ScheduleCompensationRetry,
    ScheduleStepRetry,
    StartCompensation,
)

MAX_EVENTS = 300


@st.composite
def definitions(draw: st.DrawFn) -> SagaDefinition:
    count = draw(st.integers(min_value=1, max_value=6))
    steps = []
    for i in range(count):
        steps.append(
            SagaStep(
                name=f"s{i}",
                action=SagaAction("operator", f"do{i}"),
                compensation=SagaAction("command", f"Undo{i}") if draw(st.booleans()) else None,
                retry=RetryPolicy(max_attempts=draw(st.integers(1, 3)), jitter_ratio=0.0),
                timeout_seconds=draw(st.sampled_from([None, 30.0])),
                compensation_retry=RetryPolicy(max_attempts=draw(st.integers(1, 3)), jitter_ratio=0.0),
                compensation_timeout_seconds=draw(st.sampled_from([None, 30.0])),
                compensate_if_failed=draw(st.booleans()),
            )
        )
    return SagaDefinition("prop", tuple(steps))


class Run:
    """Drives an instance with drawn results, recording what an observer outside the saga can see."""

    def __init__(self, definition: SagaDefinition, data: st.DataObject) -> None:
        self.definition = definition
        self.data = data
        self.instance = SagaInstance("p", definition)
        self.executed: list[int] = []
        self.compensation_starts: list[int] = []
        self.compensated: list[int] = []
        self.escalation: EscalateCompensation | None = None
        self.now = 0.0

    def drive(self) -> None:
        pending = self.instance.start(self.now)
        for _ in range(MAX_EVENTS):
            if not pending:
                return
            (command,) = pending  # a saga has exactly one thing in flight at a time
            self.now += 1.0
            pending = self.handle(command)
            if self.data.draw(st.booleans(), label="restore from JSON"):
                self.instance = SagaInstance.from_dict(json.loads(json.dumps(self.instance.to_dict())))

    def handle(self, command: object) -> list:
        instance = self.instance
        if isinstance(command, RunStep):
            return self.answer_step(command)
        if isinstance(command, ScheduleStepRetry):
            return instance.on_step_retry_due(command.step_index, command.attempt, command.at)
        if isinstance(command, StartCompensation):
            if command.attempt == 1 and command.step_index not in self.compensation_starts:
                self.compensation_starts.append(command.step_index)
            return self.answer_compensation(command)
        if isinstance(command, ScheduleCompensationRetry):
            return instance.on_compensation_retry_due(command.step_index, command.attempt, command.at)
        if isinstance(command, EscalateCompensation):
            self.escalation = command
            resolution = self.data.draw(st.sampled_from(["stop", "compensated_manually", "retry"]))
            if resolution == "stop":
                return []
            self.escalation = None
            if resolution == "compensated_manually":
                self.compensated.append(command.step_index)
            return instance.resolve_compensation(command.step_index, resolution, self.now)
        assert isinstance(command, SagaFinished)
        return []

    def answer_step(self, command: RunStep) -> list:
        outcome = self.data.draw(st.sampled_from([*Outcome, "deadline"]), label="step outcome")
        retryable = self.data.draw(st.booleans(), label="retryable")
        if outcome == "deadline" and command.deadline is not None:
            commands = self.instance.check_timeouts(command.deadline)
        else:
            outcome = Outcome.FAILED if outcome == "deadline" else outcome
            commands = self.instance.on_step_result(
                command.step_index, command.attempt, outcome, self.now, retryable=retryable
            )
            self.assert_duplicate_ignored(
                lambda: self.instance.on_step_result(command.step_index, command.attempt, outcome, self.now)
            )
        succeeded = outcome is Outcome.SUCCEEDED
        retried = any(isinstance(c, ScheduleStepRetry) for c in commands)
        if succeeded or (not retried and self.definition.steps[command.step_index].compensate_if_failed):
            self.executed.append(command.step_index)
        return commands

    def answer_compensation(self, command: StartCompensation) -> list:
        outcome = self.data.draw(st.sampled_from([*Outcome, "deadline"]), label="compensation outcome")
        if outcome == "deadline" and command.deadline is not None:
            commands = self.instance.check_timeouts(command.deadline)
        else:
            outcome = Outcome.FAILED if outcome == "deadline" else outcome
            commands = self.instance.on_compensation_result(command.step_index, command.attempt, outcome, self.now)
            self.assert_duplicate_ignored(
                lambda: self.instance.on_compensation_result(command.step_index, command.attempt, outcome, self.now)
            )
        if outcome is Outcome.SUCCEEDED:
            self.compensated.append(command.step_index)
        return commands

    def assert_duplicate_ignored(self, replay) -> None:
        before = self.instance.to_dict()
        assert replay() == []
        assert self.instance.to_dict() == before

    def to_undo(self) -> list[int]:
        """Executed steps that have a compensation, in the order they must be undone."""
        return [i for i in reversed(self.executed) if self.definition.steps[i].compensation is not None]


@settings(max_examples=200, deadline=None)
@given(definitions(), st.data())
def test_a_failed_saga_leaves_nothing_executed_and_uncompensated(definition, data):
    run = Run(definition, data)
    run.drive()
    status = run.instance.status

    if status in (SagaStatus.COMPENSATED, SagaStatus.FAILED):
        assert run.instance.steps_left() == []
        assert sorted(run.compensated) == sorted(run.to_undo())
        assert (status is SagaStatus.COMPENSATED) == bool(run.to_undo())
    if status is SagaStatus.COMPENSATION_ESCALATED:
        left = [i for i in run.to_undo() if i not in run.compensated]
        assert run.instance.steps_left() == left
        assert run.escalation is not None
        assert run.escalation.steps_left == tuple(definition.steps[i].name for i in left)
    if status is SagaStatus.COMPLETED:
        assert run.executed == list(range(len(definition.steps)))
        assert run.compensation_starts == []


@settings(max_examples=200, deadline=None)
@given(definitions(), st.data())
def test_compensations_run_in_exact_reverse_order_of_the_executed_steps(definition, data):
    run = Run(definition, data)
    run.drive()

    undo = run.to_undo()
    assert run.compensated == undo[: len(run.compensated)]
    assert run.compensation_starts == undo[: len(run.compensation_starts)]
    assert run.instance.compensation_order == run.compensated
