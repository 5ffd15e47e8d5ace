from services.orchestrator.htn.conditions import Condition

NO_FACTS: frozenset[str] = frozenset()


def test_empty_condition_always_holds():
    assert Condition().holds(NO_FACTS, {})


def test_required_fact_must_hold():
    condition = Condition(facts=frozenset({"repo_exists"}))
    assert condition.holds(frozenset({"repo_exists"}), {})
    assert condition.failures(NO_FACTS, {}) == ("fact 'repo_exists' does not hold",)


def test_absent_fact_must_not_hold():
    condition = Condition(absent_facts=frozenset({"frozen"}))
    assert condition.holds(NO_FACTS, {})
    assert condition.failures(frozenset({"frozen"}), {}) == ("fact 'frozen' holds",)


def test_param_must_be_present_and_equal():
    condition = Condition(params={"language": "python"})
    assert condition.holds(NO_FACTS, {"language": "python"})
    assert condition.failures(NO_FACTS, {}) == ("parameter 'language' is missing (expected 'python')",)
    assert condition.failures(NO_FACTS, {"language": "go"}) == ("parameter 'language' is 'go', not 'python'",)


def test_params_not_treats_missing_as_not_equal():
    condition = Condition(params_not={"approval_before_deploy": True})
    assert condition.holds(NO_FACTS, {})
    assert condition.holds(NO_FACTS, {"approval_before_deploy": False})
    assert condition.failures(NO_FACTS, {"approval_before_deploy": True}) == (
        "parameter 'approval_before_deploy' is True",
    )


def test_every_failed_test_is_reported():
    condition = Condition(facts=frozenset({"a"}), params={"x": 1})
    assert len(condition.failures(NO_FACTS, {})) == 2


def test_round_trips_through_dict():
    condition = Condition(frozenset({"a"}), frozenset({"b"}), {"x": 1}, {"y": True})
    assert Condition.from_dict(condition.to_dict()) == condition


def test_empty_condition_serialises_to_empty_dict():
    assert Condition().to_dict() == {}
