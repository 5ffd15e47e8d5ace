import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.goal_progress import GoalProgress, UnknownTask
from services.orchestrator.htn.plan import Plan, PlannedTask
from services.orchestrator.tier_timeouts import TierTimeouts

# design -> code -> deploy (gated) -> sign_off (human approval step)
#        -> docs (manager tier, parallel with code)
PLAN = Plan(
    "demo",
    "demo",
    (
        PlannedTask("design", "design", "design"),
        PlannedTask("code", "code", "code", depends_on=("design",)),
        PlannedTask("docs", "document", "docs", depends_on=("design",), tier="manager"),
        PlannedTask("deploy", "deploy_staging", "deploy", depends_on=("code",), requires_approval=True),
        PlannedTask("sign_off", "sign_off", "human", depends_on=("deploy", "docs"), tier="approval"),
    ),
)


def fresh() -> GoalProgress:
    return GoalProgress.from_plan("g1", PLAN)


def done(progress: GoalProgress, step: str, now: float = 0.0) -> GoalProgress:
    progress = progress.release(step, now).assign(step, "agent-1", 1, now)
    return progress.succeed(step, 1, now)


def running(step: str, upstream: tuple[str, ...] = ("design",)) -> GoalProgress:
    progress = fresh()
    for earlier in upstream:
        progress = done(progress, earlier)
    return progress.release(step, 0).assign(step, "agent-1", 1, 10)


def test_a_new_goal_has_every_task_pending_and_is_running():
    progress = fresh()
    assert {task.state for task in progress.tasks} == {"pending"}
    assert progress.status == "running"
    assert progress.counts() == {"pending": 5}


def test_only_tasks_without_dependencies_are_releasable_at_first():
    assert fresh().releasable() == ("design",)


def test_release_marks_the_task_released():
    assert fresh().release("design", 1.0).task("design").state == "released"


def test_releasing_a_task_whose_dependencies_are_unfinished_changes_nothing():
    progress = fresh()
    assert progress.release("code", 1.0) == progress


def test_releasing_twice_is_harmless():
    once = fresh().release("design", 1.0)
    assert once.release("design", 2.0) == once


def test_events_about_unknown_steps_raise():
    with pytest.raises(UnknownTask):
        fresh().release("ghost", 0)
    with pytest.raises(UnknownTask):
        fresh().succeed("ghost", 1, 0)


def test_dependents_become_releasable_when_all_dependencies_succeed():
    assert done(fresh(), "design").releasable() == ("code", "docs")


def test_assign_records_agent_attempt_and_starts_the_timeout_clock():
    task = fresh().release("design", 0).assign("design", "agent-7", 1, 5.0).task("design")
    assert (task.state, task.agent_id, task.attempt, task.since) == ("assigned", "agent-7", 1, 5.0)


def test_a_task_kept_as_running_by_an_earlier_version_still_finishes_and_times_out():
    stored = running("code").to_dict()
    for task in stored["tasks"]:
        if task["step_id"] == "code":
            task["state"] = "running"
    progress = GoalProgress.from_dict(stored)
    assert progress.task("code").state == "running"
    assert progress.succeed("code", 1, 20).task("code").state == "succeeded"
    assert progress.time_out("code", 1, 20, final=False).task("code").state == "released"


def test_success_finishes_the_task():
    assert running("code").succeed("code", 1, 20).task("code").state == "succeeded"


def test_duplicate_results_change_nothing():
    progress = running("code")
    succeeded = progress.succeed("code", 1, 20)
    assert succeeded.succeed("code", 1, 21) == succeeded
    assert succeeded.assign("code", "agent-2", 1, 23) == succeeded


def test_gated_task_waits_for_approval_instead_of_being_released():
    progress = done(done(fresh(), "design"), "code")
    assert "deploy" not in progress.releasable()
    assert progress.approvals_due() == ("deploy",)
    assert progress.release("deploy", 0) == progress


def test_approval_flow_releases_the_gated_task():
    progress = done(done(fresh(), "design"), "code").request_approval("deploy", 1)
    assert progress.task("deploy").state == "awaiting_approval"
    assert progress.approvals_due() == ()
    approved = progress.approve("deploy", 2)
    assert approved.task("deploy").state == "approved"
    assert approved.releasable() == ("docs", "deploy")
    assert approved.release("deploy", 3).task("deploy").state == "released"


def test_approving_is_idempotent_and_needs_a_pending_request():
    progress = done(done(fresh(), "design"), "code")
    assert progress.approve("deploy", 1) == progress
    approved = progress.request_approval("deploy", 1).approve("deploy", 2)
    assert approved.approve("deploy", 3) == approved


def test_rejection_fails_the_goal():
    progress = done(done(fresh(), "design"), "code").request_approval("deploy", 1).reject("deploy", 2)
    assert progress.task("deploy").state == "rejected"
    assert progress.is_failed
    assert progress.failure is not None and progress.failure.step_id == "deploy"
    assert progress.releasable() == ()


def test_an_approval_tier_task_succeeds_when_approved():
    progress = done(done(fresh(), "design"), "code").request_approval("deploy", 0).approve("deploy", 0)
    progress = done(progress, "deploy")
    progress = done(progress, "docs")
    assert progress.approvals_due() == ("sign_off",)
    progress = progress.request_approval("sign_off", 5).approve("sign_off", 6)
    assert progress.task("sign_off").state == "succeeded"
    assert progress.is_finished
    assert progress.status == "succeeded"


def test_a_retryable_failure_puts_the_next_attempt_back_to_released():
    task = running("code").fail("code", 1, 30, final=False).task("code")
    assert (task.state, task.attempt, task.agent_id, task.since) == ("released", 2, None, None)


def test_a_redelivered_retryable_failure_is_ignored():
    once = running("code").fail("code", 1, 30, final=False)
    assert once.fail("code", 1, 31, final=False) == once
    assert once.fail("code", 1, 31, final=True) == once


def test_a_stale_assignment_of_an_earlier_attempt_is_ignored():
    retrying = running("code").fail("code", 1, 30, final=False)
    assert retrying.assign("code", "agent-1", 1, 31) == retrying
    assert retrying.assign("code", "agent-2", 2, 32).task("code").agent_id == "agent-2"


def test_a_final_failure_fails_the_goal():
    progress = running("code").fail("code", 1, 30, final=True)
    assert progress.task("code").state == "failed"
    assert progress.is_failed and not progress.is_finished
    assert progress.releasable() == ()


def test_a_final_timeout_fails_the_goal():
    progress = running("code").time_out("code", 1, 2000, final=True)
    assert progress.task("code").state == "timed_out"
    assert progress.status == "failed"


def test_a_retryable_timeout_releases_the_next_attempt():
    assert running("code").time_out("code", 1, 2000, final=False).task("code").attempt == 2


def test_a_late_success_of_an_earlier_attempt_still_counts():
    retrying = running("code").fail("code", 1, 30, final=False).assign("code", "agent-2", 2, 31)
    assert retrying.succeed("code", 1, 40).task("code").state == "succeeded"


def test_results_after_a_final_failure_are_ignored():
    failed = running("code").fail("code", 1, 30, final=True)
    assert failed.succeed("code", 1, 31) == failed


def test_a_goal_succeeds_only_when_every_task_succeeded():
    progress = fresh()
    for step in ("design", "code", "docs"):
        progress = done(progress, step)
    assert progress.status == "running"


def test_cancel_cancels_unfinished_tasks_and_keeps_finished_ones():
    progress = done(fresh(), "design").cancel(9)
    assert progress.status == "cancelled"
    assert progress.task("design").state == "succeeded"
    assert progress.task("code").state == "cancelled"
    assert progress.releasable() == () and progress.approvals_due() == ()


def test_cancel_is_idempotent_and_later_events_are_ignored():
    cancelled = running("code").cancel(9)
    assert cancelled.cancel(10) == cancelled
    assert cancelled.succeed("code", 1, 11) == cancelled


def test_cancel_after_failure_changes_nothing():
    failed = running("code").fail("code", 1, 30, final=True)
    assert failed.cancel(31) == failed


def test_worker_tasks_are_overdue_after_30_minutes_from_assignment():
    progress = running("code")  # assigned at t=10
    assert progress.overdue(10 + 1799, TierTimeouts()) == ()
    assert [t.step_id for t in progress.overdue(10 + 1800, TierTimeouts())] == ["code"]


def test_manager_tasks_get_60_minutes():
    progress = running("docs")
    assert progress.overdue(10 + 3599, TierTimeouts()) == ()
    assert [t.step_id for t in progress.overdue(10 + 3600, TierTimeouts())] == ["docs"]


def test_tasks_awaiting_approval_or_not_yet_assigned_are_never_overdue():
    progress = done(done(fresh(), "design"), "code").request_approval("deploy", 0).release("docs", 0)
    assert progress.overdue(10**9, TierTimeouts()) == ()


def test_timeouts_can_be_overridden():
    assert running("code").overdue(70, TierTimeouts().with_overrides({"worker": 60})) != ()


def test_round_trips_through_json():
    progress = running("code").fail("code", 1, 30, final=False)
    assert GoalProgress.from_dict(json.loads(json.dumps(progress.to_dict()))) == progress


# Laws over arbitrary event sequences

STEPS = [task.step_id for task in PLAN.tasks]
events = st.tuples(
    st.sampled_from(["release", "request_approval", "approve", "reject", "assign", "succeed", "fail", "time_out"]),
    st.sampled_from(STEPS),
    st.integers(min_value=1, max_value=3),
    st.booleans(),
)


def apply(progress: GoalProgress, event: tuple[str, str, int, bool], now: float) -> GoalProgress:
    kind, step, attempt, final = event
    if kind in ("release", "request_approval", "approve", "reject"):
        return getattr(progress, kind)(step, now)
    if kind == "assign":
        return progress.assign(step, "agent", attempt, now)
    if kind == "succeed":
        return progress.succeed(step, attempt, now)
    return getattr(progress, kind)(step, attempt, now, final=final)


def replay(sequence: list[tuple[str, str, int, bool]], twice: bool = False) -> GoalProgress:
    progress = fresh()
    for now, event in enumerate(sequence):
        progress = apply(progress, event, float(now))
        if twice:
            progress = apply(progress, event, now + 0.5)
    return progress


@settings(max_examples=100, deadline=None)
@given(st.lists(events, max_size=40))
def test_every_event_applied_twice_has_the_effect_of_applying_it_once(sequence):
    assert replay(sequence, twice=True) == replay(sequence)


@settings(max_examples=100, deadline=None)
@given(st.lists(events, max_size=40))
def test_no_task_moves_before_all_its_dependencies_succeeded(sequence):
    progress = replay(sequence)
    states = {task.step_id: task.state for task in progress.tasks}
    for task in progress.tasks:
        if task.state not in ("pending", "cancelled"):
            assert all(states[dep] == "succeeded" for dep in task.depends_on)


@settings(max_examples=50, deadline=None)
@given(st.lists(events, max_size=40))
def test_any_progress_round_trips_through_json(sequence):
    progress = replay(sequence)
    assert GoalProgress.from_dict(json.loads(json.dumps(progress.to_dict()))) == progress
