"""The orchestrator's decisions, event by event, with no broker: goals to plans to tasks to a verdict."""

from __future__ import annotations

from typing import Any

import pytest

from services.orchestrator.decider import Context, Decision, Delayed, decide, handled_types
from services.orchestrator.goal_record import GoalRecord
from services.orchestrator.htn import builtin_domain
from shared.bus.consumer import RejectRecord
from shared.events.catalogue.goals import ApproveGate, RejectGate, SubmitGoal
from shared.events.catalogue.tasks import (
    TaskAbandoned,
    TaskAssigned,
    TaskStarted,
    TaskSucceeded,
    TaskTimeoutElapsed,
)
from shared.events.codec import new_event
from shared.events.envelope import Envelope

FLEET = frozenset({"design", "code", "test", "review", "deploy", "docs", "analysis", "planning"})


def ctx(**overrides: Any) -> Context:
    return Context(**({"domain": builtin_domain(), "fleet_capabilities": FLEET, "now": 100.0} | overrides))


def cmd(payload: Any, goal: str = "g1") -> Envelope[Any]:
    return new_event(payload, producer="test", stream_id=goal, correlation_id=goal)


def types(decision: Decision) -> list[str]:
    return [(o.event if isinstance(o, Delayed) else o).type for o in decision.emit]


def created(decision: Decision) -> list[str]:
    return [o.payload.task_id for o in decision.emit if not isinstance(o, Delayed) and o.type == "TaskCreated"]


def run_task(record: GoalRecord, task_id: str, c: Context, attempt: int = 1) -> Decision:
    decision = decide(record, cmd(TaskAssigned(task_id=task_id, goal_id="g1", agent_id="a1", attempt=attempt)), c)
    return decide(decision.record, cmd(TaskSucceeded(task_id=task_id, goal_id="g1", agent_id="a1", attempt=attempt)), c)


@pytest.mark.parametrize(
    ("goal_type", "steps"),
    [
        ("implement_feature", ["design", "code", "tests", "review", "deploy_staging"]),
        ("fix_bug", ["reproduce", "debug_root_cause", "implement_fix", "verify_fix", "deploy_hotfix"]),
        ("refactor", ["analyze", "plan", "refactor", "test", "document"]),
    ],
)
def test_a_builtin_goal_runs_its_steps_in_order_to_completion(goal_type: str, steps: list[str]) -> None:
    c = ctx()
    decision = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type=goal_type)), c)
    assert types(decision)[:2] == ["GoalSubmitted", "GoalPlanned"]
    operators = [t.operator for t in decision.emit[1].payload.tasks]
    assert operators == steps
    released = created(decision)
    assert len(released) == 1
    finished: list[str] = []
    while released:
        task_id = released.pop(0)
        finished.append(task_id)
        decision = run_task(decision.record, task_id, c)
        released += created(decision)
    assert types(decision)[-1] == "GoalCompleted"
    assert decision.record.status == "completed"
    assert len(finished) == 5


def test_handling_the_same_event_twice_emits_the_same_ids_and_nothing_new() -> None:
    c = ctx()
    submit = cmd(SubmitGoal(goal_id="g1", goal_type="fix_bug"))
    first = decide(None, submit, c)
    again = decide(None, submit, c)
    assert [e.event_id for e in first.emit] == [e.event_id for e in again.emit]
    assert decide(first.record, submit, c).emit == []


def test_an_assignment_schedules_the_tier_timeout_check_instead_of_sleeping() -> None:
    c = ctx()
    decision = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type="fix_bug")), c)
    task_id = created(decision)[0]
    assigned = decide(decision.record, cmd(TaskAssigned(task_id=task_id, goal_id="g1", agent_id="a1")), c)
    [delayed] = assigned.emit
    assert isinstance(delayed, Delayed) and delayed.delay_s == 1800
    assert delayed.event.type == "TaskTimeoutElapsed"


def test_task_started_is_not_followed_and_changes_nothing() -> None:
    c = ctx()
    decision = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type="fix_bug")), c)
    task_id = created(decision)[0]
    assigned = decide(decision.record, cmd(TaskAssigned(task_id=task_id, goal_id="g1", agent_id="a1")), c).record
    started = decide(assigned, cmd(TaskStarted(task_id=task_id, goal_id="g1", agent_id="a1")), c)
    assert "TaskStarted" not in set(handled_types())
    assert started.record is assigned and started.emit == []
    elapsed = cmd(TaskTimeoutElapsed(task_id=task_id, goal_id="g1", attempt=1))
    assert types(decide(started.record, elapsed, ctx(now=100.0 + 1800))) == ["TaskTimedOut"]  # from the assignment


def test_a_timeout_check_for_a_running_attempt_times_it_out_and_a_finished_one_is_ignored() -> None:
    c = ctx()
    decision = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type="fix_bug")), c)
    task_id = created(decision)[0]
    record = decide(decision.record, cmd(TaskAssigned(task_id=task_id, goal_id="g1", agent_id="a1")), c).record
    elapsed = cmd(TaskTimeoutElapsed(task_id=task_id, goal_id="g1", attempt=1))
    assert types(decide(record, elapsed, ctx(now=100.0 + 1800))) == ["TaskTimedOut"]
    done = decide(record, cmd(TaskSucceeded(task_id=task_id, goal_id="g1", agent_id="a1")), c).record
    assert decide(done, elapsed, ctx(now=100.0 + 1800)).emit == []


def test_an_unknown_goal_type_asks_a_planner_agent_and_a_bad_plan_is_rejected_with_reasons() -> None:
    c = ctx()
    decision = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type="write_poem")), c)
    assert types(decision) == ["GoalSubmitted", "TaskCreated"]
    decompose = decision.emit[1].payload
    assert decompose.operator == "decompose" and decompose.capability == "planning"
    bad = {"plan": {"steps": [{"id": "a", "operator": "levitate"}]}}
    rejected = decide(
        decision.record, cmd(TaskSucceeded(task_id=decompose.task_id, goal_id="g1", agent_id="p", output=bad)), c
    )
    assert types(rejected) == ["PlanRejected", "TaskCreated"]
    assert any("levitate" in reason for reason in rejected.emit[0].payload.reasons)
    retry = rejected.emit[1].payload
    assert retry.inputs["previous_rejections"]
    good = {
        "plan": {
            "steps": [
                {"id": "draft", "operator": "design"},
                {"id": "write", "operator": "code", "depends_on": ["draft"]},
            ]
        }
    }
    planned = decide(
        rejected.record, cmd(TaskSucceeded(task_id=retry.task_id, goal_id="g1", agent_id="p", output=good)), c
    )
    assert types(planned)[:3] == ["MethodLearned", "GoalPlanned", "TaskCreated"]
    assert planned.emit[1].payload.source == "agent"


def test_two_rejected_agent_plans_fail_the_goal() -> None:
    c = ctx()
    decision = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type="write_poem")), c)
    for _ in range(2):
        task_id = created(decision)[0]
        decision = decide(
            decision.record,
            cmd(TaskSucceeded(task_id=task_id, goal_id="g1", agent_id="p", output={"plan": {"steps": []}})),
            c,
        )
    assert types(decision)[-1] == "GoalFailed"


def test_an_approval_gate_blocks_until_approved() -> None:
    c = ctx()
    decision = decide(
        None, cmd(SubmitGoal(goal_id="g1", goal_type="implement_feature", params={"approval_before_deploy": True})), c
    )
    released = created(decision)
    while released:
        decision = run_task(decision.record, released.pop(0), c)
        released += created(decision)
    assert types(decision)[-1] == "ApprovalRequested"
    gate = decision.emit[-1].payload.task_id
    assert decision.record.status == "running"
    approved = decide(decision.record, cmd(ApproveGate(goal_id="g1", task_id=gate, approver="ops")), c)
    assert types(approved) == ["ApprovalGranted", "TaskCreated"]


def test_a_rejected_gate_fails_the_goal_and_an_unlisted_approver_is_refused() -> None:
    c = ctx(approvers=frozenset({"lead"}))
    decision = decide(
        None, cmd(SubmitGoal(goal_id="g1", goal_type="implement_feature", params={"approval_before_deploy": True})), c
    )
    released = created(decision)
    while released:
        decision = run_task(decision.record, released.pop(0), c)
        released += created(decision)
    gate = decision.emit[-1].payload.task_id
    with pytest.raises(RejectRecord):
        decide(decision.record, cmd(ApproveGate(goal_id="g1", task_id=gate, approver="intern")), c)
    rejected = decide(decision.record, cmd(RejectGate(goal_id="g1", task_id=gate, approver="lead", reason="no")), c)
    assert types(rejected) == ["ApprovalRejected", "GoalFailed"]


def test_an_abandoned_task_fails_the_goal_when_no_other_method_applies() -> None:
    c = ctx()
    decision = decide(None, cmd(SubmitGoal(goal_id="g1", goal_type="fix_bug")), c)
    task_id = created(decision)[0]
    record = decide(decision.record, cmd(TaskAssigned(task_id=task_id, goal_id="g1", agent_id="a1")), c).record
    failed = decide(record, cmd(TaskAbandoned(task_id=task_id, goal_id="g1", attempt=1, error_class="crash")), c)
    assert types(failed) == ["GoalFailed"]
    assert failed.record.status == "failed"
