"""`architect agents token`: the tokens it prints are the ones the assigner accepts; no secret, a clear error."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shared.agent_identity import parse_tokens, sign, tokens_for, verify
from shared.cli.main import app

runner = CliRunner()
SECRET_ENV = "ARCHITECT_AGENT_IDENTITY_SECRET"
SECRET = "deployment-secret-for-tests"


@pytest.fixture
def with_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


@pytest.mark.usefixtures("with_secret")
def test_the_printed_token_signs_reports_the_assigner_accepts_for_that_agent_only() -> None:
    result = runner.invoke(app, ["agents", "token", "coder-1"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    report = b'{"type": "TaskSucceeded"}'
    assert verify(SECRET, "coder-1", report, sign(token, report)) == "valid"
    assert verify(SECRET, "coder-2", report, sign(token, report)) == "invalid"
    assert SECRET not in result.output


@pytest.mark.usefixtures("with_secret")
def test_env_output_is_a_runtime_tokens_setting_matching_the_secret() -> None:
    result = runner.invoke(app, ["agents", "token", "coder-1", "reviewer-1", "--env"])
    assert result.exit_code == 0, result.output
    configured = parse_tokens(result.output.strip())
    agents = ["coder-1", "reviewer-1"]
    # A runtime given only these tokens signs exactly as one given the secret.
    assert tokens_for(agents, None, configured) == tokens_for(agents, SECRET, {})
    plain = runner.invoke(app, ["agents", "token", "coder-1", "reviewer-1"]).output.split()
    assert plain == [configured["coder-1"], configured["reviewer-1"]]


@pytest.mark.parametrize("value", [None, "", "   "])
def test_without_a_secret_it_fails_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(SECRET_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_ENV, value)
    result = runner.invoke(app, ["agents", "token", "coder-1"])
    assert result.exit_code == 1
    assert f"{SECRET_ENV} is not set" in " ".join(result.output.split())


@pytest.mark.usefixtures("with_secret")
@pytest.mark.parametrize("agent_id", ["", " coder-1", "a,b", "a=b"])
def test_an_id_that_would_break_the_tokens_setting_is_refused(agent_id: str) -> None:
    result = runner.invoke(app, ["agents", "token", agent_id])
    assert result.exit_code == 2
    assert "is not an agent id" in result.output


def test_no_agent_is_a_usage_error() -> None:
    assert runner.invoke(app, ["agents", "token"]).exit_code == 2
