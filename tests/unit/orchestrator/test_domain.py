import pytest

from services.orchestrator.htn.builtin_domain import builtin_domain
from services.orchestrator.htn.domain import Domain
from services.orchestrator.htn.methods import Method, MethodStep
from services.orchestrator.htn.operators import Operator
from services.orchestrator.htn.problems import DomainProblem, InvalidDomain

CODE = Operator("code", "code")
TEST = Operator("test", "test")


def seq(name: str, task: str, *steps: str, **kwargs) -> Method:
    return Method(name, task, tuple(MethodStep(step, step) for step in steps), **kwargs)


def messages(error: pytest.ExceptionInfo[InvalidDomain]) -> tuple[str, ...]:
    return error.value.messages


def test_a_consistent_domain_builds():
    domain = Domain((CODE, TEST), (seq("m", "build", "code", "test"),))
    assert domain.abstract_tasks == {"build"}
    assert domain.operator("code") == CODE
    assert domain.is_abstract("build") and not domain.is_abstract("code")


def test_unknown_operator_in_a_step_is_a_problem():
    with pytest.raises(InvalidDomain) as error:
        Domain((CODE,), (seq("m", "build", "code", "deploy"),))
    assert messages(error) == ("method 'm': step 'deploy': field 'task': unknown operator or task 'deploy'",)


def test_duplicate_operator_names_are_a_problem():
    with pytest.raises(InvalidDomain, match="operator 'code': field 'name': duplicate operator name"):
        Domain((CODE, Operator("code", "other")))


def test_duplicate_method_names_are_a_problem():
    with pytest.raises(InvalidDomain, match="method 'm': field 'name': duplicate method name"):
        Domain((CODE,), (seq("m", "a", "code"), seq("m", "b", "code")))


def test_operator_without_capability_is_a_problem():
    with pytest.raises(InvalidDomain, match="field 'capability': must not be empty"):
        Domain((Operator("code", ""),))


def test_unknown_tier_is_a_problem():
    with pytest.raises(InvalidDomain, match="unknown tier 'boss'"):
        Domain((Operator("code", "code", "boss"),))  # type: ignore[arg-type]


def test_task_that_decomposes_into_itself_is_a_problem():
    looping = (seq("a_via_b", "a", "b"), seq("b_via_a", "b", "a"))
    with pytest.raises(InvalidDomain, match="task decomposes into itself: a -> b -> a"):
        Domain((CODE,), looping)


def test_operators_and_abstract_tasks_may_share_a_name():
    domain = Domain((Operator("refactor", "code"),), (seq("refactor", "refactor", "refactor"),))
    assert domain.is_abstract("refactor")
    assert domain.operator("refactor") is not None


def test_all_problems_are_reported_together():
    with pytest.raises(InvalidDomain) as error:
        Domain((CODE, CODE), (seq("m", "t", "ghost"),))
    assert len(error.value.problems) == 2


def test_methods_for_keeps_domain_order_and_skips_candidates():
    first, second = seq("first", "t", "code"), seq("second", "t", "test")
    learned = seq("learned", "t", "code", candidate=True)
    domain = Domain((CODE, TEST), (first, second, learned))
    assert domain.methods_for("t") == (first, second)
    assert domain.methods_for("t", include_candidates=True) == (first, second, learned)


def test_extended_puts_user_methods_before_existing_ones():
    base = Domain((CODE,), (seq("base", "t", "code"),))
    extended = base.extended((TEST,), (seq("mine", "t", "test"),))
    assert [m.name for m in extended.methods_for("t")] == ["mine", "base"]


def test_extended_refuses_to_redefine_an_operator():
    with pytest.raises(InvalidDomain, match="duplicate operator name"):
        builtin_domain().extended((Operator("code", "other"),))


def test_with_method_appends_so_it_is_tried_last():
    domain = Domain((CODE, TEST), (seq("base", "t", "code"),)).with_method(seq("late", "t", "test"))
    assert [m.name for m in domain.methods_for("t")] == ["base", "late"]


def test_without_method_removes_it():
    domain = Domain((CODE,), (seq("m", "t", "code"),)).without_method("m")
    assert domain.methods == ()


def test_promote_turns_a_candidate_into_a_regular_method():
    domain = Domain((CODE,), (seq("learned", "t", "code", candidate=True),)).promote("learned")
    assert [m.name for m in domain.methods_for("t")] == ["learned"]


def test_promote_unknown_method_raises():
    with pytest.raises(KeyError):
        Domain((CODE,)).promote("nope")


def test_domain_round_trips_through_dict():
    domain = builtin_domain()
    assert Domain.from_dict(domain.to_dict()) == domain


def test_problem_describe_leaves_out_unknown_parts():
    assert DomainProblem("boom").describe() == "boom"
    assert DomainProblem("boom", method="m", field="f").describe("x.yaml") == "x.yaml: method 'm': field 'f': boom"
