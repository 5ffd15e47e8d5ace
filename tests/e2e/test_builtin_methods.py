"""Done means: a goal per built-in method completes, every task of its plan succeeded."""

from __future__ import annotations

import pytest

from tests.e2e.harness import EndToEnd

pytestmark = pytest.mark.integration

BUILTIN_GOALS = {
    "implement_feature": ["design", "code", "tests", "review", "deploy_staging"],
    "fix_bug": ["reproduce", "debug_root_cause", "implement_fix", "verify_fix", "deploy_hotfix"],
    "refactor": ["analyze", "plan", "refactor", "test", "document"],
}


@pytest.mark.timeout(120, func_only=True)
def test_a_goal_per_builtin_method_completes(e2e: EndToEnd) -> None:
    goals = {goal_type: e2e.submit(goal_type, title=f"e2e {goal_type}") for goal_type in BUILTIN_GOALS}

    for goal_type, goal_id in goals.items():
        row = e2e.wait_completed(goal_id, timeout_s=90)
        assert row["method"] == goal_type and row["plan_source"] == "method"
        assert row["tasks_total"] == row["tasks_succeeded"] == len(BUILTIN_GOALS[goal_type])
        tasks = e2e.query("SELECT task_id, operator, status FROM tasks WHERE goal_id = %s", goal_id)
        assert sorted(t["operator"] for t in tasks) == sorted(BUILTIN_GOALS[goal_type])
        assert {t["status"] for t in tasks} == {"succeeded"}, tasks
        types = e2e.types_of(goal_id)
        assert types.count("GoalCompleted") == 1
        assert types.count("TaskSucceeded") == len(BUILTIN_GOALS[goal_type])
