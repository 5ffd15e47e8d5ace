import json

from services.orchestrator.htn import agent_plan
from services.orchestrator.htn.agent_plan import validate_agent_plan
from services.orchestrator.htn.builtin_domain import builtin_domain
from services.orchestrator.htn.domain import Domain
from services.orchestrator.htn.operators import Operator
from services.orchestrator.htn.plan import AGENT_PLAN_METHOD, Plan, PlanRejection

FLEET = {"design", "code", "test", "review", "deploy", "analysis", "docs"}


def step(step_id: str, operator: str, *deps: str, **extra) -> dict:
    return {"id": step_id, "operator": operator, "depends_on": list(deps), **extra}


def validate(steps: list[dict], fleet=FLEET, domain: Domain | None = None, **kwargs) -> Plan | PlanRejection:
    return validate_agent_plan({"steps": steps}, domain or builtin_domain(), fleet, **kwargs)


def reasons(result: Plan | PlanRejection) -> tuple[str, ...]:
    assert isinstance(result, PlanRejection), result
    return result.reasons


SOUND = [
    step("d", "design"),
    step("c", "code", "d"),
    step("t", "tests", "c"),
    step("r", "review", "t"),
    step("s", "deploy_staging", "r", requires_approval=True, inputs={"env": "stg"}),
]


def test_a_sound_plan_becomes_an_agent_plan():
    result = validate(SOUND, goal_type="ship_it")
    assert isinstance(result, Plan)
    assert (result.goal_type, result.method, result.source) == ("ship_it", AGENT_PLAN_METHOD, "agent")
    assert result.step_ids == ("d", "c", "t", "r", "s")
    ship = result.task("s")
    assert (ship.capability, ship.requires_approval, ship.inputs, ship.method) == ("deploy", True, {"env": "stg"}, None)
    assert result.task("r").tier == "manager"


def test_steps_are_put_in_dependency_order():
    result = validate(list(reversed(SOUND)))
    assert isinstance(result, Plan)
    assert result.step_ids == ("d", "c", "t", "r", "s")


def test_malformed_plan_is_rejected_with_field_paths():
    assert reasons(validate_agent_plan({"steps": [{"id": "a"}]}, builtin_domain(), FLEET)) == (
        "steps[0].operator: Field required",
    )
    assert reasons(validate_agent_plan("nonsense", builtin_domain(), FLEET))[0].startswith("plan: ")


def test_empty_plan_is_rejected():
    assert reasons(validate([])) == ("the plan has no steps",)


def test_too_many_steps_are_rejected_with_a_configurable_limit():
    many = [step(f"s{i}", "design") for i in range(51)]
    assert reasons(validate(many)) == ("the plan has 51 steps; the limit is 50",)
    assert reasons(validate(SOUND, max_steps=4)) == ("the plan has 5 steps; the limit is 4",)


def test_unknown_operator_is_rejected():
    assert reasons(validate([step("a", "paint")])) == ("step 'a': unknown operator 'paint'",)


def test_abstract_task_instead_of_operator_gets_a_hint():
    assert reasons(validate([step("a", "fix_bug")])) == (
        "step 'a': unknown operator 'fix_bug' (it is an abstract task: name its operators instead)",
    )


def test_capability_missing_from_the_fleet_is_rejected():
    assert reasons(validate([step("a", "design")], fleet={"code"})) == (
        "step 'a': operator 'design' needs capability 'design', which no agent in the fleet has",
    )


def test_approval_tier_operators_need_no_agent_capability():
    domain = Domain((Operator("sign_off", "human", "approval"),))
    result = validate([step("a", "sign_off")], fleet=set(), domain=domain)
    assert isinstance(result, Plan)


def test_duplicate_step_id_is_rejected():
    assert reasons(validate([step("a", "design"), step("a", "analyze")])) == ("step 'a': duplicate step id",)


def test_dangling_dependency_is_rejected():
    assert reasons(validate([step("a", "design", "ghost")])) == ("step 'a': depends on unknown step 'ghost'",)


def test_self_dependency_is_rejected():
    assert reasons(validate([step("a", "design", "a")])) == ("step 'a': depends on itself",)


def test_cycle_is_rejected():
    assert reasons(validate([step("a", "design", "b"), step("b", "analyze", "a")])) == (
        "the steps form a cycle: a -> b -> a",
    )


def test_unsatisfiable_precondition_is_rejected():
    assert reasons(validate([step("c", "code")])) == (
        "step 'c': precondition 'design_ready' of operator 'code' does not hold: "
        "it is not an initial fact and no step produces it",
    )


def test_precondition_from_an_unordered_step_is_rejected():
    assert reasons(validate([step("d", "design"), step("c", "code")])) == (
        "step 'c': precondition 'design_ready' of operator 'code' does not hold: "
        "produced by step 'd', which 'c' does not depend on",
    )


def test_initial_facts_can_satisfy_preconditions():
    assert isinstance(validate([step("c", "code")], initial_facts={"design_ready"}), Plan)


def test_independent_problems_are_all_reported():
    result = reasons(validate([step("a", "paint"), step("b", "design", "ghost")], fleet={"code"}))
    assert result == (
        "step 'a': unknown operator 'paint'",
        "step 'b': operator 'design' needs capability 'design', which no agent in the fleet has",
        "step 'b': depends on unknown step 'ghost'",
    )


def test_the_documented_example_plan_is_valid():
    example = json.loads((agent_plan.__doc__ or "").split("```json")[1].split("```")[0])
    assert isinstance(validate_agent_plan(example, builtin_domain(), FLEET), Plan)
