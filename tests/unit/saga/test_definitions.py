import pytest

from services.saga_coordinator.definitions import (
    SagaDefinitionError,
    builtin_definition,
    load_definition_directory,
    load_definition_file,
    load_definition_text,
    parse_definition,
)
from services.saga_coordinator.saga import SagaAction, SagaDefinition

VALID = """
name: release
steps:
  - name: build
    action: {operator: build}
    compensation: {command: DeleteArtifacts, params: {keep_logs: true}}
    retry: {max_attempts: 5, base_delay_seconds: 2}
  - name: approve
    action: {command: RequestApproval}
    timeout_seconds: null
"""


def test_the_autopilot_run_saga_has_the_reports_steps_and_compensations():
    definition = builtin_definition("autopilot_run")

    assert [(s.name, s.compensation.name if s.compensation else None) for s in definition.steps] == [
        ("plan_milestone", "DeletePlan"),
        ("assign_tasks", "UnassignTasks"),
        ("execute", "roll_back_changes"),
        ("run_tests", "MarkRunInvalid"),
        ("deploy_staging", "roll_back_deployment"),
        ("user_approval", "RejectDeployment"),
    ]


def test_user_approval_waits_indefinitely_and_is_never_retried():
    approval = builtin_definition("autopilot_run").steps[-1]

    assert approval.timeout_seconds is None
    assert approval.retry.max_attempts == 1


def test_yaml_fields_become_the_definition():
    definition = load_definition_text(VALID)

    build, approve = definition.steps
    assert build.compensation == SagaAction("command", "DeleteArtifacts", {"keep_logs": True})
    assert (build.retry.max_attempts, build.retry.base_delay_seconds) == (5, 2.0)
    assert approve.action == SagaAction("command", "RequestApproval")
    assert approve.compensation is None and approve.timeout_seconds is None


def test_omitted_fields_take_the_documented_defaults():
    (only,) = load_definition_text("name: x\nsteps:\n  - {name: a, action: {operator: a}}").steps

    assert only.timeout_seconds == 1800.0
    assert only.retry.max_attempts == 3
    assert only.compensation_retry.max_attempts == 5
    assert not only.compensate_if_failed


def test_errors_name_the_file_the_step_and_the_field():
    text = VALID.replace("max_attempts: 5", "max_attempts: 0")

    with pytest.raises(SagaDefinitionError) as error:
        load_definition_text(text, "sagas/release.yaml")

    message = str(error.value)
    assert message.startswith("sagas/release.yaml: ")
    assert "step 1 ('build')" in message
    assert "'retry.max_attempts'" in message


def test_an_action_needs_exactly_one_of_operator_or_command():
    text = VALID.replace("{operator: build}", "{operator: build, command: Build}")

    with pytest.raises(SagaDefinitionError, match=r"step 1 \('build'\), field 'action'.*exactly one"):
        load_definition_text(text)


def test_unknown_fields_are_refused():
    with pytest.raises(SagaDefinitionError, match="'timeout'"):
        load_definition_text(VALID.replace("timeout_seconds: null", "timeout: 5"))


def test_duplicate_step_names_are_refused():
    with pytest.raises(SagaDefinitionError, match="duplicate step name 'build'"):
        load_definition_text(VALID.replace("name: approve", "name: build"))


def test_a_saga_needs_steps():
    with pytest.raises(SagaDefinitionError, match="'steps'"):
        load_definition_text("name: x\nsteps: []")


def test_malformed_yaml_is_reported_with_its_source():
    with pytest.raises(SagaDefinitionError, match=r"bad\.yaml: invalid YAML"):
        load_definition_text("name: [", "bad.yaml")


def test_definitions_can_be_given_as_python_mappings():
    definition = parse_definition({"name": "x", "steps": [{"name": "a", "action": {"command": "DoA"}}]})

    assert definition.steps[0].action == SagaAction("command", "DoA")


def test_a_directory_loads_every_yaml_file_by_saga_name(tmp_path):
    (tmp_path / "release.yaml").write_text(VALID)
    (tmp_path / "notes.txt").write_text("not a saga")

    assert list(load_definition_directory(tmp_path)) == ["release"]


def test_two_files_defining_the_same_saga_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "b.yml").write_text(VALID)

    with pytest.raises(SagaDefinitionError, match="already defined"):
        load_definition_directory(tmp_path)


def test_a_missing_file_is_reported_with_its_path(tmp_path):
    with pytest.raises(SagaDefinitionError, match=r"missing\.yaml: cannot read"):
        load_definition_file(tmp_path / "missing.yaml")


def test_a_definition_survives_a_dict_round_trip():
    definition = builtin_definition("autopilot_run")

    assert SagaDefinition.from_dict(definition.to_dict()) == definition


def test_an_unknown_builtin_is_reported():
    with pytest.raises(SagaDefinitionError, match="no built-in saga"):
        builtin_definition("nope")
