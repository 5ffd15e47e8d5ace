from services.orchestrator.htn.conditions import Condition
from services.orchestrator.htn.methods import Method, MethodStep


def partial(*steps: MethodStep) -> Method:
    return Method("m", "t", steps, ordering="partial")


def messages(method: Method) -> list[str]:
    return [problem.describe() for problem in method.problems()]


def test_sequential_steps_each_depend_on_the_previous():
    method = Method("m", "t", (MethodStep("a", "x"), MethodStep("b", "x"), MethodStep("c", "x")))
    assert method.dependencies() == {"a": (), "b": ("a",), "c": ("b",)}


def test_partial_steps_use_their_declared_dependencies():
    method = partial(MethodStep("a", "x"), MethodStep("b", "x"), MethodStep("c", "x", depends_on=("a", "b")))
    assert method.dependencies() == {"a": (), "b": (), "c": ("a", "b")}


def test_a_sound_method_has_no_problems():
    assert partial(MethodStep("a", "x"), MethodStep("b", "x", depends_on=("a",))).problems() == ()


def test_method_without_steps_is_a_problem():
    assert messages(Method("m", "t", ())) == ["method 'm': field 'steps': a method needs at least one step"]


def test_duplicate_step_id_is_a_problem():
    assert messages(partial(MethodStep("a", "x"), MethodStep("a", "y"))) == [
        "method 'm': step 'a': field 'id': duplicate step id 'a'"
    ]


def test_step_id_with_a_dot_is_a_problem():
    assert "use only letters" in messages(partial(MethodStep("a.b", "x")))[0]


def test_dangling_dependency_is_a_problem():
    assert messages(partial(MethodStep("a", "x", depends_on=("ghost",)))) == [
        "method 'm': step 'a': field 'depends_on': unknown step 'ghost'"
    ]


def test_self_dependency_is_a_problem():
    assert messages(partial(MethodStep("a", "x", depends_on=("a",)))) == [
        "method 'm': step 'a': field 'depends_on': a step cannot depend on itself"
    ]


def test_cycle_is_a_problem():
    method = partial(MethodStep("a", "x", depends_on=("b",)), MethodStep("b", "x", depends_on=("a",)))
    assert messages(method) == ["method 'm': field 'depends_on': dependency cycle a -> b -> a"]


def test_depends_on_in_a_sequential_method_is_a_problem():
    method = Method("m", "t", (MethodStep("a", "x"), MethodStep("b", "x", depends_on=("a",))))
    assert "only allowed when the method's ordering is 'partial'" in messages(method)[0]


def test_method_round_trips_through_dict():
    method = Method(
        "m",
        "t",
        (
            MethodStep("a", "x", saga="release", inputs={"k": "${v}"}),
            MethodStep("b", "y", depends_on=("a",), requires_approval=True),
        ),
        Condition(params={"p": 1}),
        ordering="partial",
        candidate=True,
    )
    assert Method.from_dict(method.to_dict()) == method
