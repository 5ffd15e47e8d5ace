import json

import pytest

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
    command_to_dict,
)

OK, FAIL, TIMEOUT = Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMED_OUT


def step(name: str, compensated: bool = True, **options) -> SagaStep:
    return SagaStep(
        name=name,
        action=SagaAction("operator", name),
        compensation=SagaAction("command", f"Undo{name.title()}") if compensated else None,
        retry=options.pop("retry", RetryPolicy(max_attempts=2, base_delay_seconds=1.0, jitter_ratio=0.0)),
        compensation_retry=options.pop(
            "compensation_retry", RetryPolicy(max_attempts=2, base_delay_seconds=5.0, jitter_ratio=0.0)
        ),
        **options,
    )


def saga(*steps: SagaStep) -> SagaInstance:
    return SagaInstance("s1", SagaDefinition("test", steps or (step("a"), step("b"), step("c"))))


def fail_for_good(instance: SagaInstance, index: int, now: float = 0.0) -> list:
    """Fail attempt 1, let the retry fall due, fail attempt 2 (the last)."""
    (retry,) = instance.on_step_result(index, 1, FAIL, now)
    instance.on_step_retry_due(index, retry.attempt, retry.at)
    return instance.on_step_result(index, 2, FAIL, retry.at + 1)


def test_starting_runs_the_first_step():
    instance = saga()

    assert instance.start(now=100.0) == [RunStep("s1", 0, "a", 1, SagaAction("operator", "a"), 1900.0)]
    assert instance.status is SagaStatus.RUNNING


def test_a_second_start_does_nothing():
    instance = saga()
    instance.start(0.0)

    assert instance.start(1.0) == []


def test_each_success_runs_the_next_step_and_the_last_completes_the_saga():
    instance = saga()
    instance.start(0.0)

    (second,) = instance.on_step_result(0, 1, OK, 1.0)
    instance.on_step_result(1, 1, OK, 2.0)
    finished = instance.on_step_result(2, 1, OK, 3.0)

    assert (second.step_name, second.attempt) == ("b", 1)
    assert finished == [SagaFinished("s1", SagaStatus.COMPLETED)]


def test_outcomes_may_be_given_by_their_plain_values():
    instance = saga()
    instance.start(0.0)

    (run,) = instance.on_step_result(0, 1, "succeeded", 1.0)

    assert run.step_name == "b"


def test_a_failed_attempt_schedules_a_retry_with_backoff():
    instance = saga()
    instance.start(0.0)

    assert instance.on_step_result(0, 1, FAIL, 10.0) == [ScheduleStepRetry("s1", 0, "a", 2, 11.0)]


def test_a_due_retry_runs_the_next_attempt():
    instance = saga()
    instance.start(0.0)
    instance.on_step_result(0, 1, FAIL, 10.0)

    (run,) = instance.on_step_retry_due(0, 2, 11.0)

    assert (run.step_index, run.attempt) == (0, 2)


def test_a_retried_step_that_succeeds_moves_on():
    instance = saga()
    instance.start(0.0)
    instance.on_step_result(0, 1, TIMEOUT, 10.0)
    instance.on_step_retry_due(0, 2, 11.0)

    (run,) = instance.on_step_result(0, 2, OK, 12.0)

    assert run.step_name == "b"


def test_a_step_that_exhausts_its_retries_compensates_executed_steps_in_reverse_order():
    instance = saga()
    instance.start(0.0)
    instance.on_step_result(0, 1, OK, 1.0)
    instance.on_step_result(1, 1, OK, 2.0)

    (first,) = fail_for_good(instance, 2)
    (second,) = instance.on_compensation_result(1, 1, OK, 20.0)
    finished = instance.on_compensation_result(0, 1, OK, 21.0)

    assert isinstance(first, StartCompensation) and first.step_name == "b"
    assert first.action == SagaAction("command", "UndoB")
    assert second.step_name == "a"
    assert finished == [SagaFinished("s1", SagaStatus.COMPENSATED)]
    assert instance.compensation_order == [1, 0]


def test_a_non_retryable_failure_compensates_at_once():
    instance = saga()
    instance.start(0.0)
    instance.on_step_result(0, 1, OK, 1.0)

    (command,) = instance.on_step_result(1, 1, FAIL, 2.0, retryable=False)

    assert isinstance(command, StartCompensation) and command.step_name == "a"


def test_steps_without_a_compensation_are_passed_over():
    instance = saga(step("a"), step("b", compensated=False), step("c"))
    instance.start(0.0)
    instance.on_step_result(0, 1, OK, 1.0)
    instance.on_step_result(1, 1, OK, 2.0)

    (command,) = fail_for_good(instance, 2)

    assert command.step_name == "a"


def test_a_failure_with_nothing_to_undo_ends_the_saga_failed():
    instance = saga()
    instance.start(0.0)

    assert fail_for_good(instance, 0) == [SagaFinished("s1", SagaStatus.FAILED)]


def test_a_step_that_may_leave_partial_effects_is_compensated_first_when_it_fails():
    instance = saga(step("a"), step("b", compensate_if_failed=True))
    instance.start(0.0)
    instance.on_step_result(0, 1, OK, 1.0)

    (command,) = fail_for_good(instance, 1)

    assert command.step_name == "b"
    assert instance.steps_left() == [1, 0]


def test_a_failed_compensation_is_retried_with_backoff():
    instance = saga()
    instance.start(0.0)
    instance.on_step_result(0, 1, OK, 1.0)
    fail_for_good(instance, 1)

    retry = instance.on_compensation_result(0, 1, FAIL, 30.0, error="conflict")
    (run,) = instance.on_compensation_retry_due(0, 2, 35.0)

    assert retry == [ScheduleCompensationRetry("s1", 0, "a", 2, 35.0)]
    assert (run.step_index, run.attempt) == (0, 2)


def test_a_compensation_failing_after_its_retries_is_escalated_naming_the_steps_left():
    instance = saga()
    instance.start(0.0)
    instance.on_step_result(0, 1, OK, 1.0)
    instance.on_step_result(1, 1, OK, 2.0)
    fail_for_good(instance, 2)
    instance.on_compensation_result(1, 1, FAIL, 30.0)
    instance.on_compensation_retry_due(1, 2, 35.0)

    commands = instance.on_compensation_result(1, 2, FAIL, 36.0, error="disk full")

    assert commands == [EscalateCompensation("s1", 1, "b", 2, "disk full", ("b", "a"))]
    assert instance.status is SagaStatus.COMPENSATION_ESCALATED


def escalated_saga() -> SagaInstance:
    instance = saga()
    instance.start(0.0)
    instance.on_step_result(0, 1, OK, 1.0)
    instance.on_step_result(1, 1, OK, 2.0)
    fail_for_good(instance, 2)
    instance.on_compensation_result(1, 1, FAIL, 30.0)
    instance.on_compensation_retry_due(1, 2, 35.0)
    instance.on_compensation_result(1, 2, FAIL, 36.0)
    return instance


def test_an_escalated_saga_waits_for_a_human_whatever_else_arrives():
    instance = escalated_saga()

    assert instance.check_timeouts(10**9) == []
    assert instance.on_compensation_result(1, 2, OK, 40.0) == []
    assert instance.on_compensation_retry_due(1, 3, 40.0) == []
    assert instance.status is SagaStatus.COMPENSATION_ESCALATED


def test_a_manual_compensation_moves_on_to_the_next_step():
    instance = escalated_saga()

    (command,) = instance.resolve_compensation(1, "compensated_manually", 50.0)
    finished = instance.on_compensation_result(0, 1, OK, 51.0)

    assert command.step_name == "a"
    assert finished == [SagaFinished("s1", SagaStatus.COMPENSATED)]
    assert instance.steps[1].compensated_manually


def test_a_retry_resolution_runs_the_compensation_again_with_a_fresh_budget():
    instance = escalated_saga()

    (command,) = instance.resolve_compensation(1, "retry", 50.0)

    assert isinstance(command, StartCompensation)
    assert (command.step_name, command.attempt) == ("b", 1)
    assert instance.status is SagaStatus.COMPENSATING


def test_resolving_a_saga_that_is_not_escalated_does_nothing():
    instance = saga()
    instance.start(0.0)

    assert instance.resolve_compensation(0, "compensated_manually", 1.0) == []


def test_an_unknown_resolution_is_refused():
    with pytest.raises(ValueError, match="unknown resolution"):
        escalated_saga().resolve_compensation(1, "ignore", 50.0)  # type: ignore[arg-type]


def test_duplicate_results_change_nothing():
    instance = saga()
    instance.start(0.0)
    instance.on_step_result(0, 1, OK, 1.0)
    before = instance.to_dict()

    assert instance.on_step_result(0, 1, OK, 1.0) == []
    assert instance.on_step_result(0, 1, FAIL, 1.0) == []
    assert instance.to_dict() == before


def test_a_late_result_of_a_superseded_attempt_is_ignored():
    instance = saga()
    instance.start(0.0)
    instance.on_step_result(0, 1, TIMEOUT, 10.0)
    instance.on_step_retry_due(0, 2, 11.0)

    assert instance.on_step_result(0, 1, OK, 12.0) == []
    assert instance.steps[0].attempt == 2


def test_a_duplicate_retry_due_event_runs_the_attempt_once():
    instance = saga()
    instance.start(0.0)
    instance.on_step_result(0, 1, FAIL, 10.0)
    instance.on_step_retry_due(0, 2, 11.0)

    assert instance.on_step_retry_due(0, 2, 11.5) == []


def test_results_after_the_end_are_ignored():
    instance = saga(step("a"))
    instance.start(0.0)
    instance.on_step_result(0, 1, OK, 1.0)

    assert instance.on_step_result(0, 1, FAIL, 2.0) == []
    assert instance.status is SagaStatus.COMPLETED


def test_an_attempt_past_its_deadline_times_out():
    instance = saga(step("a", timeout_seconds=60.0))
    instance.start(0.0)

    assert instance.check_timeouts(59.0) == []
    assert instance.check_timeouts(60.0) == [ScheduleStepRetry("s1", 0, "a", 2, 61.0)]


def test_a_step_without_a_timeout_never_times_out():
    instance = saga(step("approval", timeout_seconds=None))
    (run,) = instance.start(0.0)

    assert run.deadline is None
    assert instance.check_timeouts(10.0**9) == []


def test_a_compensation_past_its_deadline_times_out():
    instance = saga(step("a", compensation_timeout_seconds=100.0), step("b"))
    instance.start(0.0)
    instance.on_step_result(0, 1, OK, 1.0)
    (start,) = fail_for_good(instance, 1)

    assert instance.check_timeouts(start.deadline - 1) == []
    assert instance.check_timeouts(start.deadline) == [ScheduleCompensationRetry("s1", 0, "a", 2, start.deadline + 5.0)]


def test_a_saga_restored_from_json_continues_like_the_original():
    original = saga()
    original.start(0.0)
    original.on_step_result(0, 1, OK, 1.0)
    original.on_step_result(1, 1, FAIL, 2.0)
    restored = SagaInstance.from_dict(json.loads(json.dumps(original.to_dict())))

    assert restored.to_dict() == original.to_dict()
    assert restored.on_step_retry_due(1, 2, 3.0) == original.on_step_retry_due(1, 2, 3.0)
    assert restored.on_step_result(1, 2, FAIL, 4.0) == original.on_step_result(1, 2, FAIL, 4.0)


def test_commands_have_a_plain_json_form():
    (run,) = saga().start(0.0)

    assert json.loads(json.dumps(command_to_dict(run))) == {
        "type": "RunStep",
        "saga_id": "s1",
        "step_index": 0,
        "step_name": "a",
        "attempt": 1,
        "action": {"kind": "operator", "name": "a", "params": {}},
        "deadline": 1800.0,
    }


def test_a_definition_needs_unique_step_names():
    with pytest.raises(ValueError, match="duplicate"):
        SagaDefinition("x", (step("a"), step("a")))
