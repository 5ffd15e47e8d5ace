from services.orchestrator.htn.builtin_domain import APPROVAL_PARAM, builtin_domain
from services.orchestrator.htn.plan import NoMethodApplies, Plan
from services.orchestrator.htn.planner import plan, replan


def planned(goal_type: str, **params) -> Plan:
    result = plan(goal_type, params, (), builtin_domain())
    assert isinstance(result, Plan), result
    return result


def chain(result: Plan) -> list[tuple[str, tuple[str, ...]]]:
    return [(task.step_id, task.depends_on) for task in result.tasks]


def test_implement_feature_is_design_code_tests_review_deploy_staging():
    assert chain(planned("implement_feature")) == [
        ("design", ()),
        ("code", ("design",)),
        ("tests", ("code",)),
        ("review", ("tests",)),
        ("deploy_staging", ("review",)),
    ]


def test_fix_bug_is_reproduce_debug_fix_verify_hotfix():
    assert chain(planned("fix_bug")) == [
        ("reproduce", ()),
        ("debug_root_cause", ("reproduce",)),
        ("implement_fix", ("debug_root_cause",)),
        ("verify_fix", ("implement_fix",)),
        ("deploy_hotfix", ("verify_fix",)),
    ]


def test_refactor_is_analyze_plan_refactor_test_document():
    assert chain(planned("refactor")) == [
        ("analyze", ()),
        ("plan", ("analyze",)),
        ("refactor", ("plan",)),
        ("test", ("refactor",)),
        ("document", ("test",)),
    ]


def test_operators_have_the_documented_capabilities():
    capabilities = {
        task.operator: task.capability
        for goal in ("implement_feature", "fix_bug", "refactor")
        for task in planned(goal).tasks
    }
    assert capabilities == {
        "design": "design",
        "code": "code",
        "tests": "test",
        "review": "review",
        "deploy_staging": "deploy",
        "reproduce": "test",
        "debug_root_cause": "analysis",
        "implement_fix": "code",
        "verify_fix": "test",
        "deploy_hotfix": "deploy",
        "analyze": "analysis",
        "plan": "analysis",
        "refactor": "code",
        "test": "test",
        "document": "docs",
    }


def test_review_and_plan_are_manager_decisions_and_the_rest_worker_tasks():
    tiers = {task.operator: task.tier for goal in ("implement_feature", "refactor") for task in planned(goal).tasks}
    assert {op for op, tier in tiers.items() if tier == "manager"} == {"review", "plan"}
    assert all(task.tier == "worker" for task in planned("fix_bug").tasks)


def test_without_the_approval_parameter_nothing_needs_approval():
    result = planned("implement_feature")
    assert result.method == "implement_feature"
    assert not any(task.requires_approval for task in result.tasks)


def test_approval_before_deploy_gates_only_deploy_staging():
    result = planned("implement_feature", **{APPROVAL_PARAM: True})
    assert result.method == "implement_feature_gated"
    assert [task.step_id for task in result.tasks if task.requires_approval] == ["deploy_staging"]


def test_approval_before_deploy_false_means_ungated():
    assert planned("implement_feature", **{APPROVAL_PARAM: False}).method == "implement_feature"


def test_replanning_a_gated_feature_never_falls_back_to_the_ungated_method():
    result = replan("implement_feature", {APPROVAL_PARAM: True}, (), builtin_domain(), "implement_feature_gated")
    assert isinstance(result, NoMethodApplies)
    assert "method 'implement_feature_gated': excluded" in result.reasons


def test_builtin_steps_are_all_produced_by_builtin_methods():
    for task in ("implement_feature", "fix_bug", "refactor"):
        assert all(t.method == task for t in planned(task).tasks)
