"""Done means: an unknown goal type goes through the planner agent, and a bad agent plan is rejected with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.agent_backends import DEFAULT_PLAN, PROPOSED_PLAN_PARAM
from tests.e2e.harness import EndToEnd

pytestmark = pytest.mark.integration

UNKNOWN_GOAL_TYPE = "write_release_notes"
UNKNOWN_OPERATOR_PLAN: dict[str, Any] = {
    "steps": [{"id": "design", "operator": "design"}, {"id": "magic", "operator": "summon", "depends_on": ["design"]}]
}
CYCLIC_PLAN: dict[str, Any] = {
    "steps": [
        {"id": "code", "operator": "code", "depends_on": ["tests"]},
        {"id": "tests", "operator": "tests", "depends_on": ["code"]},
    ]
}


@pytest.mark.timeout(90, func_only=True)
def test_unknown_goal_type_is_planned_by_the_planner_agent(e2e: EndToEnd) -> None:
    goal_id = e2e.submit(UNKNOWN_GOAL_TYPE, title="no method applies")

    row = e2e.wait_completed(goal_id)
    assert row["plan_source"] == "agent"
    assert row["tasks_total"] == len(DEFAULT_PLAN["steps"])
    decompose = e2e.tap.events(
        goal_id=goal_id, types=["TaskCreated"], where=lambda e: e.payload.operator == "decompose"
    )
    assert [e.payload.capability for e in decompose] == ["planning"]
    assert decompose[0].payload.inputs["goal_type"] == UNKNOWN_GOAL_TYPE
    assigned = e2e.tap.events(
        goal_id=goal_id, types=["TaskAssigned"], where=lambda e: e.payload.task_id == decompose[0].payload.task_id
    )
    assert [e.payload.agent_id for e in assigned] == [e2e.fleet.planner]
    planned = e2e.tap.events(goal_id=goal_id, types=["GoalPlanned"])
    assert [(e.payload.source, [t.operator for t in e.payload.tasks]) for e in planned] == [
        ("agent", [step["operator"] for step in DEFAULT_PLAN["steps"]])
    ]
    learned = e2e.tap.events(types=["MethodLearned"], where=lambda e: e.payload.goal_id == goal_id)
    assert [e.payload.goal_type for e in learned] == [UNKNOWN_GOAL_TYPE]
    assert "PlanRejected" not in e2e.types_of(goal_id)


@pytest.mark.timeout(90, func_only=True)
@pytest.mark.parametrize(
    ("bad_plan", "expected_reason"),
    [(UNKNOWN_OPERATOR_PLAN, "unknown operator 'summon'"), (CYCLIC_PLAN, "cycle")],
    ids=["unknown-operator", "cycle"],
)
def test_a_bad_agent_plan_is_rejected_with_its_reason(
    e2e: EndToEnd, bad_plan: dict[str, Any], expected_reason: str
) -> None:
    goal_id = e2e.submit(UNKNOWN_GOAL_TYPE, {PROPOSED_PLAN_PARAM: bad_plan}, title="the planner proposes a bad plan")

    row = e2e.wait_finished(goal_id)
    assert row["status"] == "failed"
    assert expected_reason in row["reason"], row["reason"]
    rejections = e2e.tap.events(goal_id=goal_id, types=["PlanRejected"])
    assert len(rejections) == 2, "the planner is asked once more, then the goal fails"
    for rejection in rejections:
        assert any(expected_reason in reason for reason in rejection.payload.reasons), rejection.payload.reasons
    second_request = e2e.tap.events(
        goal_id=goal_id, types=["TaskCreated"], where=lambda e: e.payload.operator == "decompose"
    )[-1]
    assert any(expected_reason in r for r in second_request.payload.inputs["previous_rejections"])
    types = e2e.types_of(goal_id)
    assert "GoalPlanned" not in types and "GoalCompleted" not in types
    assert types.count("GoalFailed") == 1
