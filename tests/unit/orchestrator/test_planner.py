from hypothesis import given, settings
from hypothesis import strategies as st

from services.orchestrator.htn.builtin_domain import builtin_domain
from services.orchestrator.htn.conditions import Condition
from services.orchestrator.htn.domain import Domain
from services.orchestrator.htn.methods import Method, MethodStep
from services.orchestrator.htn.operators import Operator
from services.orchestrator.htn.plan import NoMethodApplies, Plan
from services.orchestrator.htn.planner import plan, replan

OPERATORS = (
    Operator("design", "design", effects=frozenset({"designed"})),
    Operator("code", "code", preconditions=frozenset({"designed"}), effects=frozenset({"coded"})),
    Operator("lint", "code", preconditions=frozenset({"coded"}), effects=frozenset({"linted"})),
    Operator("test", "test", preconditions=frozenset({"coded"}), effects=frozenset({"tested"})),
    Operator("ship", "deploy", preconditions=frozenset({"linted", "tested"}), effects=frozenset({"shipped"})),
    Operator("hack", "code", effects=frozenset({"coded"})),
    Operator("wipe", "code", removes=frozenset({"coded"})),
    Operator("needs_license", "code", preconditions=frozenset({"licensed"})),
)


def seq(name: str, task: str, *steps: str | MethodStep, **kwargs) -> Method:
    built = tuple(step if isinstance(step, MethodStep) else MethodStep(step, step) for step in steps)
    return Method(name, task, built, **kwargs)


def domain(*methods: Method) -> Domain:
    return Domain(OPERATORS, methods)


def ok(result: Plan | NoMethodApplies) -> Plan:
    assert isinstance(result, Plan), result
    return result


def failed(result: Plan | NoMethodApplies) -> NoMethodApplies:
    assert isinstance(result, NoMethodApplies), result
    return result


PARALLEL = Method(
    "parallel",
    "deliver",
    (
        MethodStep("design", "design"),
        MethodStep("code", "code", depends_on=("design",)),
        MethodStep("lint", "lint", depends_on=("code",)),
        MethodStep("test", "test", depends_on=("code",)),
        MethodStep("ship", "ship", depends_on=("lint", "test")),
    ),
    ordering="partial",
)


def test_partial_order_lets_independent_steps_share_a_dependency():
    result = ok(plan("deliver", {}, (), domain(PARALLEL)))
    assert {t.step_id: t.depends_on for t in result.tasks} == {
        "design": (),
        "code": ("design",),
        "lint": ("code",),
        "test": ("code",),
        "ship": ("lint", "test"),
    }


def test_plan_lists_tasks_dependencies_first_in_declared_order():
    result = ok(plan("deliver", {}, (), domain(PARALLEL)))
    assert result.step_ids == ("design", "code", "lint", "test", "ship")


def test_planned_tasks_carry_operator_capability_and_tier():
    task = ok(plan("deliver", {}, (), domain(PARALLEL))).task("ship")
    assert (task.operator, task.capability, task.tier, task.method) == ("ship", "deploy", "worker", "parallel")


def test_first_applicable_method_wins():
    result = ok(plan("t", {}, (), domain(seq("first", "t", "hack"), seq("second", "t", "design"))))
    assert result.method == "first"


def test_method_whose_condition_fails_is_skipped():
    methods = (seq("python", "t", "hack", condition=Condition(params={"lang": "py"})), seq("any", "t", "design"))
    assert ok(plan("t", {"lang": "go"}, (), domain(*methods))).method == "any"
    assert ok(plan("t", {"lang": "py"}, (), domain(*methods))).method == "python"


def test_method_conditions_see_the_initial_facts():
    methods = (seq("fresh", "t", "design", condition=Condition(absent_facts=frozenset({"designed"}))),)
    assert isinstance(plan("t", {}, (), domain(*methods)), Plan)
    assert isinstance(plan("t", {}, ("designed",), domain(*methods)), NoMethodApplies)


def test_method_with_unsatisfiable_precondition_fails_and_the_next_is_tried():
    result = ok(plan("t", {}, (), domain(seq("broken", "t", "code"), seq("works", "t", "design", "code"))))
    assert result.method == "works"


def test_initial_facts_can_satisfy_preconditions():
    assert ok(plan("t", {}, ("designed",), domain(seq("m", "t", "code")))).step_ids == ("code",)


def test_no_method_applies_explains_every_method():
    methods = (
        seq("gated", "t", "hack", condition=Condition(params={"go": True})),
        seq("broken", "t", "code"),
    )
    result = failed(plan("t", {}, (), domain(*methods)))
    assert result.goal_type == "t"
    assert result.reasons == (
        "method 'gated': parameter 'go' is missing (expected True)",
        "method 'broken': step 'code': precondition 'designed' of operator 'code' does not hold: "
        "it is not an initial fact and no step produces it",
    )


def test_unknown_goal_type_has_no_method():
    assert failed(plan("paint", {}, (), domain())).reasons == ("no method decomposes 'paint'",)


def test_goal_type_naming_only_an_operator_has_no_method():
    assert failed(plan("design", {}, (), domain())).reasons == ("no method decomposes 'design'",)


def test_excluded_methods_are_skipped_and_recorded():
    methods = (seq("first", "t", "hack"), seq("second", "t", "design"))
    result = ok(plan("t", {}, (), domain(*methods), excluded_methods=["first"]))
    assert result.method == "second"
    assert result.excluded_methods == ("first",)


def test_replan_excludes_the_failed_method_and_the_earlier_exclusions():
    methods = (seq("a", "t", "hack"), seq("b", "t", "design"), seq("c", "t", "design", "code"))
    first = ok(plan("t", {}, (), domain(*methods)))
    second = ok(replan("t", {}, (), domain(*methods), first.method, first.excluded_methods))
    third = ok(replan("t", {}, (), domain(*methods), second.method, second.excluded_methods))
    assert (first.method, second.method, third.method) == ("a", "b", "c")
    assert third.excluded_methods == ("a", "b")
    assert isinstance(replan("t", {}, (), domain(*methods), "c", third.excluded_methods), NoMethodApplies)


def test_a_step_that_needs_a_fact_from_an_unordered_step_is_unsound():
    method = Method("m", "t", (MethodStep("a", "hack"), MethodStep("b", "lint")), ordering="partial")
    reasons = failed(plan("t", {}, (), domain(method))).reasons
    assert reasons == (
        "method 'm': step 'b': precondition 'coded' of operator 'lint' does not hold: "
        "produced by step 'a', which 'b' does not depend on",
    )


def test_an_unordered_step_that_removes_a_needed_fact_is_a_threat():
    method = Method(
        "m",
        "t",
        (MethodStep("a", "hack"), MethodStep("b", "lint", depends_on=("a",)), MethodStep("c", "wipe")),
        ordering="partial",
    )
    reasons = failed(plan("t", {}, (), domain(method))).reasons
    assert reasons == ("method 'm': step 'c' removes fact 'coded' needed by step 'b', and the two are not ordered",)


def test_a_fact_removed_by_an_earlier_step_no_longer_holds():
    reasons = failed(plan("t", {}, (), domain(seq("m", "t", "hack", "wipe", "lint")))).reasons
    assert reasons == (
        "method 'm': step 'lint': precondition 'coded' of operator 'lint' does not hold: "
        "removed by earlier step 'wipe'",
    )


# Nested (hierarchical) decomposition

BUILD = seq("build_properly", "build", "design", "code")
RELEASE = Method(
    "release",
    "deliver",
    (
        MethodStep("build", "build", saga="release", inputs={"branch": "main"}),
        MethodStep("check", "lint", depends_on=("build",)),
        MethodStep("verify", "test", depends_on=("build",)),
        MethodStep("ship", "ship", depends_on=("check", "verify"), requires_approval=True),
    ),
    ordering="partial",
)


def test_nested_steps_get_dotted_ids_and_their_method_name():
    result = ok(plan("deliver", {}, (), domain(RELEASE, BUILD)))
    assert result.step_ids == ("build.design", "build.code", "check", "verify", "ship")
    assert result.task("build.code").method == "build_properly"
    assert result.task("ship").method == "release"
    assert result.methods_used == ("release", "build_properly")


def test_dependents_of_a_compound_step_wait_for_its_last_tasks():
    result = ok(plan("deliver", {}, (), domain(RELEASE, BUILD)))
    assert result.task("build.code").depends_on == ("build.design",)
    assert result.task("check").depends_on == ("build.code",)
    assert result.task("verify").depends_on == ("build.code",)


def test_compound_step_passes_saga_and_inputs_down():
    result = ok(plan("deliver", {}, (), domain(RELEASE, BUILD)))
    assert all(result.task(step).saga == "release" for step in ("build.design", "build.code"))
    assert result.task("build.design").inputs == {"branch": "main"}
    assert result.task("check").saga is None


def test_compound_step_requiring_approval_gates_its_first_tasks():
    gated = Method("gated", "deliver", (MethodStep("build", "build", requires_approval=True),))
    result = ok(plan("deliver", {}, (), domain(gated, BUILD)))
    assert [t.step_id for t in result.tasks if t.requires_approval] == ["build.design"]


def test_compound_step_sources_inherit_the_step_dependencies():
    method = Method(
        "m",
        "deliver",
        (MethodStep("prep", "design"), MethodStep("build", "build", depends_on=("prep",))),
        ordering="partial",
    )
    inner = seq("inner", "build", "hack", "lint")
    result = ok(plan("deliver", {}, (), domain(method, inner)))
    assert result.task("build.hack").depends_on == ("prep",)
    assert result.task("build.lint").depends_on == ("build.hack",)


def test_planner_backtracks_into_the_next_nested_method_when_the_whole_plan_is_unsound():
    # "quick" decomposes fine on its own but never produces "designed", which the outer method's next
    # step needs: the planner must fall back to the nested "careful" method.
    quick = seq("quick", "build", "hack")
    careful = seq("careful", "build", "design", "code")
    outer = seq("outer", "deliver", "build", MethodStep("again", "code"))
    result = ok(plan("deliver", {}, (), domain(outer, quick, careful)))
    assert result.methods_used == ("outer", "careful")


def test_excluding_a_nested_method_replans_with_its_alternative():
    quick = seq("quick", "build", "hack")
    careful = seq("careful", "build", "design", "code")
    outer = seq("outer", "deliver", "build")
    first = ok(plan("deliver", {}, (), domain(outer, quick, careful)))
    failed_method = first.task("build.hack").method
    assert failed_method == "quick"
    second = ok(replan("deliver", {}, (), domain(outer, quick, careful), failed_method))
    assert (second.method, second.methods_used) == ("outer", ("outer", "careful"))


def test_nested_failures_are_explained():
    outer = seq("outer", "deliver", "build")
    only = seq("only", "build", "hack", condition=Condition(params={"fast": True}))
    reasons = failed(plan("deliver", {}, (), domain(outer, only))).reasons
    assert reasons == ("method 'outer': nested method 'only' for 'build': parameter 'fast' is missing (expected True)",)


# Inputs, limits, candidates, determinism


def test_inputs_reference_goal_parameters():
    method = seq("m", "t", MethodStep("design", "design", inputs={"spec": "${spec}", "mode": "strict"}))
    result = ok(plan("t", {"spec": {"title": "login"}}, (), domain(method)))
    assert result.task("design").inputs == {"spec": {"title": "login"}, "mode": "strict"}


def test_missing_referenced_parameter_makes_the_method_fail():
    method = seq("m", "t", MethodStep("design", "design", inputs={"spec": "${spec}"}))
    reasons = failed(plan("t", {}, (), domain(method))).reasons
    assert reasons == ("method 'm': step 'design': inputs reference missing parameters 'spec'",)


def test_plans_larger_than_max_steps_are_refused():
    reasons = failed(plan("deliver", {}, (), domain(PARALLEL), max_steps=4)).reasons
    assert reasons == ("method 'parallel': decomposes into 5 steps; the limit is 4",)


def test_candidate_methods_are_ignored_unless_asked_for():
    learned = seq("learned", "t", "hack", candidate=True)
    assert isinstance(plan("t", {}, (), domain(learned)), NoMethodApplies)
    assert ok(plan("t", {}, (), domain(learned), include_candidates=True)).method == "learned"


def test_planning_is_deterministic():
    first = plan("deliver", {"x": 1}, ("a", "b"), domain(RELEASE, BUILD))
    second = plan("deliver", {"x": 1}, ["b", "a"], domain(RELEASE, BUILD))
    assert first == second


def test_plan_round_trips_through_dict():
    result = ok(plan("deliver", {}, (), domain(RELEASE, BUILD), excluded_methods=["nothing"]))
    assert Plan.from_dict(result.to_dict()) == result


@settings(max_examples=50, deadline=None)
@given(
    goal=st.sampled_from(["implement_feature", "fix_bug", "refactor"]),
    params=st.dictionaries(st.sampled_from(["approval_before_deploy", "x"]), st.booleans()),
)
def test_builtin_plans_are_topologically_ordered_and_self_contained(goal, params):
    result = ok(plan(goal, params, (), builtin_domain()))
    seen: set[str] = set()
    for task in result.tasks:
        assert set(task.depends_on) <= seen
        seen.add(task.step_id)
    assert len(seen) == len(result.tasks)
