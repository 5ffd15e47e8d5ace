"""`architect sagas`: bad input is refused with a clear message (exit 2) before anything is published."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

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
