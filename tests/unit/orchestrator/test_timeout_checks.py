"""One pending timeout check per goal: scheduled for the first deadline, sweeping every overdue task when it
fires, then scheduling the next."""

from __future__ import annotations

import json
from typing import Any

from services.orchestrator.decider import Context, Decision, Delayed, decide
from services.orchestrator.goal_progress import GoalProgress
from services.orchestrator.goal_record import GoalRecord
from services.orchestrator.htn import builtin_domain
from services.orchestrator.htn.plan import Plan, PlannedTask
from services.orchestrator.tier_timeouts import TierTimeouts
from services.orchestrator.timeout_checks import (
    LOST_AFTER_S,
    MIN_DELAY_S,
    TimeoutCheck,
    first_deadline,
    needs_new_check,
)
from shared.events.catalogue.tasks import TaskAssigned, TaskSucceeded, TaskTimeoutElapsed
from shared.events.codec import new_event
from shared.events.envelope import Envelope

TIMEOUTS = TierTimeouts(worker_s=100.0, manager_s=300.0)
PLAN = Plan(
    "parallel",
    "parallel",
    (
        PlannedTask("a", "noop", "code"),
        PlannedTask("b", "noop", "code"),
        PlannedTask("boss", "noop", "review", tier="manager"),
    ),
)


def ctx(now: float) -> Context:
    return Context(builtin_domain(), frozenset({"code", "review"}), TIMEOUTS, now=now)


def cmd(payload: Any) -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id="g1", correlation_id="g1")


def released() -> GoalRecord:
    progress = GoalProgress.from_plan("g1", PLAN)
    for step in PLAN.step_ids:
        progress = progress.release(step, 0.0)
    return GoalRecord("g1", "parallel", status="running", plan=PLAN, progress=progress)


def checks(decision: Decision) -> list[tuple[str, int, float]]:
    return [
        (o.event.payload.task_id, o.event.payload.attempt, o.delay_s)
        for o in decision.emit
        if isinstance(o, Delayed) and o.event.type == "TaskTimeoutElapsed"
    ]


def pending(decision: Decision) -> tuple[str, int, float] | None:
    check = decision.record.timeout_check if decision.record is not None else None
    return None if check is None else (check.task_id, check.attempt, check.due)


def timed_out(decision: Decision) -> list[str]:
    return [o.payload.task_id for o in decision.emit if not isinstance(o, Delayed) and o.type == "TaskTimedOut"]


def assign(record: GoalRecord | None, step: str, now: float, attempt: int = 1) -> Decision:
    assigned = TaskAssigned(task_id=f"g1/{step}", goal_id="g1", agent_id="a", attempt=attempt)
    return decide(record, cmd(assigned), ctx(now))


def fire(record: GoalRecord | None, step: str, now: float, attempt: int = 1) -> Decision:
    return decide(record, cmd(TaskTimeoutElapsed(task_id=f"g1/{step}", goal_id="g1", attempt=attempt)), ctx(now))


def test_only_the_first_assignment_of_a_goal_schedules_a_check() -> None:
    first = assign(released(), "a", now=10.0)
    assert checks(first) == [("g1/a", 1, 100.0)]
    assert pending(first) == ("g1/a", 1, 110.0)
    second = assign(first.record, "b", now=12.0)
    third = assign(second.record, "boss", now=13.0)
    assert checks(second) == checks(third) == []
    assert pending(third) == ("g1/a", 1, 110.0)


def test_an_assignment_due_before_the_pending_check_schedules_its_own() -> None:
    record = assign(released(), "boss", now=0.0).record  # manager tier: due at 300
    earlier = assign(record, "a", now=50.0)  # worker tier: due at 150
    assert checks(earlier) == [("g1/a", 1, 100.0)]
    assert pending(earlier) == ("g1/a", 1, 150.0)


def test_the_pending_check_times_out_every_overdue_task_and_schedules_the_next_deadline() -> None:
    record = released()
    for step, now in (("a", 10.0), ("b", 20.0), ("boss", 30.0)):
        decision = assign(record, step, now)
        assert decision.record is not None
        record = decision.record
    fired = fire(record, "a", now=125.0)  # a (due 110) and b (due 120) are overdue; boss is due at 330
    assert timed_out(fired) == ["g1/a", "g1/b"]
    assert checks(fired) == [("g1/boss", 1, 205.0)]
    assert pending(fired) == ("g1/boss", 1, 330.0)
    assert fired.record is not None and fired.record.progress is not None
    assert [fired.record.progress.task(s).attempt for s in ("a", "b")] == [2, 2]  # released for their retries


def test_a_task_that_ended_in_time_is_not_timed_out_and_the_chain_moves_on() -> None:
    record = assign(released(), "a", now=10.0).record
    record = assign(record, "b", now=60.0).record
    record = decide(record, cmd(TaskSucceeded(task_id="g1/a", goal_id="g1", agent_id="a")), ctx(70.0)).record
    assert record is not None
    fired = fire(record, "a", now=110.0)
    assert timed_out(fired) == []
    assert checks(fired) == [("g1/b", 1, 50.0)]  # b's deadline: 60 + 100


def test_a_check_delivered_before_its_deadline_by_this_clock_is_scheduled_again_not_lost() -> None:
    record = assign(released(), "a", now=10.0).record
    early = fire(record, "a", now=109.99)
    assert timed_out(early) == []
    # Not 10 ms: the scheduler's clock, ahead of this one, would deliver it again at once, over and over.
    assert checks(early) == [("g1/a", 1, MIN_DELAY_S)]
    assert early.record is not None
    assert timed_out(fire(early.record, "a", now=110.0)) == ["g1/a"]


def test_a_check_that_is_not_the_pending_one_sweeps_but_schedules_nothing() -> None:
    record = assign(released(), "a", now=10.0).record
    record = assign(record, "b", now=20.0).record
    # As scheduled by a version that checked every attempt: b's own check, while a's is the pending one.
    stray = fire(record, "b", now=121.0)
    assert timed_out(stray) == ["g1/a", "g1/b"]
    assert checks(stray) == []
    assert pending(stray) == ("g1/a", 1, 110.0)


def test_a_record_kept_without_a_pending_check_treats_any_check_as_pending() -> None:
    record = assign(released(), "a", now=10.0).record
    assert record is not None
    legacy = record.with_(timeout_check=None)
    fired = fire(legacy, "b", now=50.0)  # not overdue yet: the next check is scheduled for a
    assert timed_out(fired) == [] and checks(fired) == [("g1/a", 1, 60.0)]


def test_the_pending_check_round_trips_through_json() -> None:
    record = assign(released(), "a", now=10.0).record
    assert record is not None
    assert GoalRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    kept_before = {key: value for key, value in record.to_dict().items() if key != "timeout_check"}
    assert GoalRecord.from_dict(kept_before).timeout_check is None


def test_first_deadline_ignores_tasks_without_a_timeout_or_not_working() -> None:
    progress = GoalProgress.from_plan("g1", PLAN)
    assert first_deadline(progress, TIMEOUTS) is None
    progress = progress.release("a", 0.0).assign("a", "x", 1, 5.0).release("boss", 0.0).assign("boss", "y", 1, 1.0)
    task, deadline = first_deadline(progress, TIMEOUTS) or (None, None)
    assert task is not None and (task.step_id, deadline) == ("a", 105.0)
    assert first_deadline(progress, TierTimeouts(worker_s=None, manager_s=None)) is None


def test_a_new_check_is_needed_only_before_the_pending_one_or_when_it_is_lost() -> None:
    check = TimeoutCheck("g1/a", 1, 110.0)
    assert needs_new_check(None, 500.0, now=0.0)
    assert needs_new_check(check, 109.0, now=0.0)
    assert not needs_new_check(check, 110.0, now=0.0)
    assert not needs_new_check(check, 200.0, now=100.0 + LOST_AFTER_S)  # late, not lost yet
    assert needs_new_check(check, 200.0, now=110.0 + LOST_AFTER_S + 1)


def test_an_assignment_after_the_pending_check_was_lost_schedules_its_own() -> None:
    record = assign(released(), "a", now=10.0).record  # its check, due at 110, never arrives
    late = assign(record, "b", now=110.0 + LOST_AFTER_S + 1)
    assert checks(late) == [("g1/a", 1, MIN_DELAY_S)]  # the first deadline is a's, long past
    assert pending(late) == ("g1/a", 1, 110.0)


def test_an_event_delivered_again_schedules_the_check_its_first_handling_scheduled() -> None:
    record = released()
    assigned = cmd(TaskAssigned(task_id="g1/a", goal_id="g1", agent_id="a", attempt=1))
    first = decide(record, assigned, ctx(10.0))
    again = decide(first.record, assigned, ctx(12.0))  # the record was saved, the scheduled check lost
    assert checks(again) == [("g1/a", 1, 98.0)] and again.record == first.record
    assert [o.event.event_id for o in again.emit if isinstance(o, Delayed)] == [
        o.event.event_id for o in first.emit if isinstance(o, Delayed)
    ]
    assert checks(assign(first.record, "a", now=13.0)) == []  # another delivery of the same assignment: no

    record = assign(first.record, "b", now=20.0).record
    elapsed = cmd(TaskTimeoutElapsed(task_id="g1/a", goal_id="g1", attempt=1))
    fired = decide(record, elapsed, ctx(111.0))
    assert timed_out(fired) == ["g1/a"] and checks(fired) == [("g1/b", 1, 9.0)]
    refired = decide(fired.record, elapsed, ctx(112.0))
    assert timed_out(refired) == [] and checks(refired) == [("g1/b", 1, 8.0)]
    assert refired.record == fired.record
