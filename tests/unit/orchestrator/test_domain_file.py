import textwrap

import pytest

from services.orchestrator.htn import domain_file
from services.orchestrator.htn.builtin_domain import builtin_domain
from services.orchestrator.htn.domain import Domain
from services.orchestrator.htn.domain_file import load_domain_dict, load_domain_file, load_domain_text
from services.orchestrator.htn.plan import Plan
from services.orchestrator.htn.planner import plan
from services.orchestrator.htn.problems import InvalidDomain

LINTED_FEATURE = """
operators:
  - name: lint
    capability: code
    preconditions: [code_written]
    effects: [linted]
methods:
  - name: implement_feature_linted
    task: implement_feature
    when:
      params: {language: python}
    ordering: partial
    steps:
      - {id: design, task: design}
      - {id: code, task: code, depends_on: [design]}
      - {id: lint, task: lint, depends_on: [code]}
      - {id: tests, task: tests, depends_on: [code]}
      - {id: review, task: review, depends_on: [lint, tests], saga: release}
      - id: deploy
        task: deploy_staging
        depends_on: [review]
        requires_approval: true
        inputs: {target: "${environment}"}
"""


def errors(text: str, base: Domain | None = None) -> tuple[str, ...]:
    with pytest.raises(InvalidDomain) as error:
        load_domain_text(textwrap.dedent(text), base=base, source="team.yaml")
    return error.value.messages


def test_user_methods_extend_the_builtin_domain_and_are_tried_first():
    domain = load_domain_text(LINTED_FEATURE)
    result = plan("implement_feature", {"language": "python", "environment": "staging"}, (), domain)
    assert isinstance(result, Plan)
    assert result.method == "implement_feature_linted"
    assert result.task("review").depends_on == ("lint", "tests")
    assert result.task("deploy").requires_approval
    assert result.task("deploy").inputs == {"target": "staging"}
    assert result.task("review").saga == "release"


def test_builtin_methods_still_apply_when_user_conditions_fail():
    result = plan("implement_feature", {"language": "go"}, (), load_domain_text(LINTED_FEATURE))
    assert isinstance(result, Plan) and result.method == "implement_feature"


def test_loads_a_file_and_names_it_in_errors(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(LINTED_FEATURE)
    assert load_domain_file(good).operator("lint") is not None
    bad = tmp_path / "bad.yaml"
    bad.write_text("methods:\n  - {name: m, task: t, steps: [{id: a, task: nope}]}\n")
    with pytest.raises(InvalidDomain) as error:
        load_domain_file(bad)
    assert error.value.messages == (f"{bad}: method 'm': step 'a': field 'task': unknown operator or task 'nope'",)


def test_empty_file_adds_nothing():
    assert load_domain_text("") == builtin_domain()


def test_a_standalone_domain_can_be_loaded_on_an_empty_base():
    text = "operators: [{name: sing, capability: music}]\nmethods: [{name: m, task: t, steps: [{id: a, task: sing}]}]"
    domain = load_domain_text(text, base=Domain())
    assert [op.name for op in domain.operators] == ["sing"]
    assert domain.abstract_tasks == {"t"}


def test_invalid_yaml_is_reported_with_the_source():
    (message,) = errors("methods: [unclosed")
    assert message.startswith("team.yaml: not valid YAML:")


def test_top_level_must_be_a_mapping():
    assert errors("- just\n- a list\n") == ("team.yaml: expected a mapping with 'operators' and/or 'methods'",)


def test_missing_field_names_method_step_and_field():
    text = """
    methods:
      - name: m
        task: t
        steps:
          - {id: a}
    """
    assert errors(text) == ("team.yaml: method 'm': step 'a': field 'task': Field required",)


def test_misspelt_field_is_refused():
    text = """
    methods:
      - name: m
        task: t
        steps:
          - {id: a, task: code, dependson: [b]}
    """
    assert errors(text) == ("team.yaml: method 'm': step 'a': field 'dependson': Extra inputs are not permitted",)


def test_method_without_name_is_numbered():
    text = """
    methods:
      - {name: ok, task: t, steps: [{id: a, task: code}]}
      - {task: t, steps: [{id: a, task: code}]}
    """
    assert errors(text) == ("team.yaml: method '#2': field 'name': Field required",)


def test_method_without_steps_is_refused():
    (message,) = errors("methods:\n  - {name: m, task: t, steps: []}\n")
    assert message.startswith("team.yaml: method 'm': field 'steps': List should have at least 1 item")


def test_bad_operator_tier_names_the_operator():
    (message,) = errors("operators:\n  - {name: sign, capability: legal, tier: boss}\n")
    assert message.startswith("team.yaml: operator 'sign': field 'tier': Input should be")


def test_unknown_operator_is_named():
    text = "methods:\n  - {name: m, task: t, steps: [{id: a, task: paint}]}\n"
    assert errors(text) == ("team.yaml: method 'm': step 'a': field 'task': unknown operator or task 'paint'",)


def test_cycle_is_named():
    text = """
    methods:
      - name: m
        task: t
        ordering: partial
        steps:
          - {id: a, task: code, depends_on: [b]}
          - {id: b, task: code, depends_on: [a]}
    """
    assert errors(text) == ("team.yaml: method 'm': field 'depends_on': dependency cycle a -> b -> a",)


def test_duplicate_step_id_is_named():
    text = "methods:\n  - {name: m, task: t, steps: [{id: a, task: code}, {id: a, task: tests}]}\n"
    assert errors(text) == ("team.yaml: method 'm': step 'a': field 'id': duplicate step id 'a'",)


def test_dangling_dependency_is_named():
    text = """
    methods:
      - name: m
        task: t
        ordering: partial
        steps: [{id: a, task: code, depends_on: [ghost]}]
    """
    assert errors(text) == ("team.yaml: method 'm': step 'a': field 'depends_on': unknown step 'ghost'",)


def test_redefining_a_builtin_operator_is_refused():
    assert errors("operators:\n  - {name: code, capability: typing}\n") == (
        "team.yaml: operator 'code': field 'name': duplicate operator name",
    )


def test_every_problem_is_reported_at_once():
    text = """
    methods:
      - {name: m1, task: t, steps: [{id: a, task: paint}]}
      - {name: m2, task: t, steps: [{id: b, task: sculpt}]}
    """
    assert len(errors(text)) == 2


def test_domain_dict_round_trip_loads_back():
    domain = load_domain_text(LINTED_FEATURE)
    assert load_domain_dict(domain.to_dict(), base=Domain()) == domain


def test_the_documented_example_file_loads_and_plans():
    example = (domain_file.__doc__ or "").split("```yaml")[1].split("```")[0]
    domain = load_domain_text(example)
    result = plan("implement_feature", {"language": "python", "environment": "stg"}, ("repo_exists",), domain)
    assert isinstance(result, Plan) and result.method == "implement_feature_linted"
