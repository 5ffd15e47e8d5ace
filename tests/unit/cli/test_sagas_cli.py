"""`architect sagas`: bad input is refused with a clear message (exit 2) before anything is published."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.saga_coordinator.abortable import abort_refusal
from shared.cli.main import app

runner = CliRunner()


def test_an_invalid_definition_file_is_refused_naming_the_step_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nsteps:\n  - name: one\n    action: {operator: a, command: B}\n")
    result = runner.invoke(app, ["sagas", "start", str(path)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())  # rich wraps long lines
    assert "step 1 ('one'), field 'action'" in text and "exactly one of 'operator' or 'command'" in text


def test_a_missing_definition_file_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sagas", "start", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_a_malformed_parameter_is_refused() -> None:
    result = runner.invoke(app, ["sagas", "start", "autopilot_run", "--param", "novalue"])
    assert result.exit_code == 2
    assert "not key=value" in result.output


def test_resolve_needs_exactly_one_resolution() -> None:
    for flags in ([], ["--retry", "--manual"]):
        result = runner.invoke(app, ["sagas", "resolve", "saga-1", "reserve", *flags])
        assert result.exit_code == 2
        assert "exactly one of --retry or --manual" in " ".join(result.output.split())


def test_abort_refuses_a_reason_too_long_before_looking_anything_up() -> None:
    result = runner.invoke(app, ["sagas", "abort", "saga-1", "--reason", "x" * 1001])
    assert result.exit_code == 2
    assert "reason: String should have at most 1000 characters" in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("status", "why"),
    [
        ("completed", "has finished: completed"),
        ("compensated", "has finished: compensated"),
        ("failed", "has finished: failed"),
        ("aborting", "is already being aborted"),
        ("compensating", "is already compensating its executed steps"),
        ("compensation_escalated", "waits for a human to resolve an escalated compensation"),
    ],
)
def test_only_a_running_saga_can_be_aborted(status: str, why: str) -> None:
    assert abort_refusal("saga-1", "running") is None
    refusal = abort_refusal("saga-1", status)
    assert refusal is not None and why in refusal and refusal.endswith("nothing to abort")
