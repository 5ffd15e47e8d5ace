"""Which saga definitions the coordinator knows: the built-in ones plus a configured directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.saga_coordinator.definitions import SagaDefinitionError
from services.saga_coordinator.settings import SagaSettings, builtin_names


def test_the_built_in_autopilot_run_is_known_without_configuration() -> None:
    assert "autopilot_run" in builtin_names()
    definitions = SagaSettings(definitions_dir=None).definitions()
    assert [step.name for step in definitions["autopilot_run"].steps] == [
        "plan_milestone",
        "assign_tasks",
        "execute",
        "run_tests",
        "deploy_staging",
        "user_approval",
    ]


def test_a_directory_adds_definitions_and_may_not_redefine_a_built_in(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("name: mine\nsteps:\n  - name: only\n    action: {operator: noop}\n")
    assert set(SagaSettings(definitions_dir=tmp_path).definitions()) == {"autopilot_run", "mine"}
    (tmp_path / "clash.yaml").write_text("name: autopilot_run\nsteps:\n  - name: x\n    action: {operator: y}\n")
    with pytest.raises(SagaDefinitionError, match="already a built-in"):
        SagaSettings(definitions_dir=tmp_path).definitions()


def test_the_directory_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHITECT_SAGA_DEFINITIONS_DIR", str(tmp_path))
    assert SagaSettings().definitions_dir == tmp_path
