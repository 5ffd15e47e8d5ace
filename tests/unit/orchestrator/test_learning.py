from services.orchestrator.htn.agent_plan import validate_agent_plan
from services.orchestrator.htn.builtin_domain import builtin_domain
from services.orchestrator.htn.domain import Domain
from services.orchestrator.htn.domain_file import load_domain_dict
from services.orchestrator.htn.learning import candidate_method_from_plan
from services.orchestrator.htn.methods import Method, MethodStep
from services.orchestrator.htn.operators import Operator
from services.orchestrator.htn.plan import Plan
from services.orchestrator.htn.planner import plan

FLEET = {"design", "code", "test", "review", "deploy"}
AGENT_PLAN = {
    "steps": [
        {"id": "d", "operator": "design", "inputs": {"note": "only for this goal"}},
        {"id": "c", "operator": "code", "depends_on": ["d"], "saga": "build"},
        {"id": "t", "operator": "tests", "depends_on": ["c"]},
        {"id": "r", "operator": "review", "depends_on": ["t"]},
        {"id": "s", "operator": "deploy_staging", "depends_on": ["r"], "requires_approval": True},
    ]
}


def agent_plan() -> Plan:
    result = validate_agent_plan(AGENT_PLAN, builtin_domain(), FLEET, goal_type="add_endpoint")
    assert isinstance(result, Plan)
    return result


def test_learned_method_is_a_candidate_for_the_goal_type():
    method = candidate_method_from_plan("add_endpoint", agent_plan())
    assert method.task == "add_endpoint"
    assert method.candidate
    assert method.name.startswith("add_endpoint_learned_")


def test_learned_method_keeps_structure_approvals_and_sagas_but_not_inputs():
    method = candidate_method_from_plan("add_endpoint", agent_plan())
    assert method.ordering == "partial"
    assert [(s.id, s.task, s.depends_on) for s in method.steps][:2] == [("d", "design", ()), ("c", "code", ("d",))]
    assert method.steps[1].saga == "build"
    assert method.steps[-1].requires_approval
    assert all(not step.inputs for step in method.steps)


def test_learning_the_same_decomposition_twice_gives_the_same_method():
    assert candidate_method_from_plan("add_endpoint", agent_plan()) == candidate_method_from_plan(
        "add_endpoint", agent_plan()
    )


def test_different_structures_get_different_names():
    shorter = validate_agent_plan({"steps": AGENT_PLAN["steps"][:1]}, builtin_domain(), FLEET)
    assert isinstance(shorter, Plan)
    assert (
        candidate_method_from_plan("add_endpoint", shorter).name
        != candidate_method_from_plan("add_endpoint", agent_plan()).name
    )


def test_promoted_learned_method_reproduces_the_plan():
    method = candidate_method_from_plan("add_endpoint", agent_plan())
    domain = builtin_domain().with_method(method)
    assert plan("add_endpoint", {}, (), domain).__class__.__name__ == "NoMethodApplies"
    replayed = plan("add_endpoint", {}, (), domain.promote(method.name))
    assert isinstance(replayed, Plan)
    assert replayed.step_ids == agent_plan().step_ids
    assert [t.depends_on for t in replayed.tasks] == [t.depends_on for t in agent_plan().tasks]


def test_nested_step_ids_become_valid_method_step_ids():
    operators = (Operator("a", "x"), Operator("b", "x"))
    inner = Method("inner", "part", (MethodStep("a", "a"), MethodStep("b", "b")))
    outer = Method("outer", "whole", (MethodStep("part", "part"),))
    nested = plan("whole", {}, (), Domain(operators, (outer, inner)))
    assert isinstance(nested, Plan) and nested.step_ids == ("part.a", "part.b")
    method = candidate_method_from_plan("whole", nested)
    assert [(s.id, s.depends_on) for s in method.steps] == [("part__a", ()), ("part__b", ("part__a",))]
    assert Domain(operators, (method,)).methods == (method,)


def test_learned_method_survives_storage_as_a_domain_dict():
    method = candidate_method_from_plan("add_endpoint", agent_plan())
    restored = load_domain_dict({"methods": [method.to_dict()]})
    assert restored.method(method.name) == method
