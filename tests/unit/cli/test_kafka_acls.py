"""`architect kafka acls`: one kafka-acls.sh line per grant, for every service, with the principal asked for."""

from __future__ import annotations

import shlex
from pathlib import Path

from typer.testing import CliRunner

from shared.bus.access import SERVICE_ACCESS, grants
from shared.cli.main import app

runner = CliRunner()


def _commands(output: str) -> list[list[str]]:
    return [shlex.split(line) for line in output.splitlines() if line and not line.startswith("#")]


def test_every_service_gets_its_grants_as_ready_to_run_commands() -> None:
    result = runner.invoke(
        app, ["kafka", "acls", "--principal-prefix", "User:prod-", "--bootstrap-server", "kafka:9093"]
    )
    assert result.exit_code == 0, result.output
    commands = _commands(result.output)
    expected = [grant for access in SERVICE_ACCESS.values() for grant in grants(access, "User:prod-")]
    assert len(commands) == len(expected)
    for argv, grant in zip(commands, expected, strict=True):
        assert argv[:3] == ["kafka-acls.sh", "--bootstrap-server", "kafka:9093"]
        assert argv[argv.index("--allow-principal") + 1] == grant.principal
        assert argv[argv.index("--resource-pattern-type") + 1] == grant.pattern
        names = [argv[i + 1] for i, arg in enumerate(argv) if arg == f"--{grant.resource}"]
        operations = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--operation"]
        assert (tuple(names), tuple(operations)) == (grant.names, grant.operations)
    headers = [line for line in result.output.splitlines() if line.startswith("#")]
    assert headers == [f"# {name}: User:prod-{name}" for name in SERVICE_ACCESS]


def test_one_service_with_an_admin_client_config() -> None:
    result = runner.invoke(
        app, ["kafka", "acls", "--service", "agent-runtime", "--command-config", "/etc/kafka/admin.properties"]
    )
    assert result.exit_code == 0, result.output
    commands = _commands(result.output)
    assert commands
    assert all(argv[argv.index("--command-config") + 1] == "/etc/kafka/admin.properties" for argv in commands)
    assert {argv[argv.index("--allow-principal") + 1] for argv in commands} == {"User:architect-agent-runtime"}
    writes = next(argv for argv in commands if "Write" in argv and "--topic" in argv)
    assert "architect.agents.reports" in writes and "architect.tasks.events" not in writes


def test_bad_prefixes_and_unknown_services_are_refused() -> None:
    for prefix in ("architect-", "User:with space-", ":x"):
        result = runner.invoke(app, ["kafka", "acls", "--principal-prefix", prefix])
        assert result.exit_code == 2, prefix
        assert "is not <type>:<name prefix>" in " ".join(result.output.split())
    result = runner.invoke(app, ["kafka", "acls", "--service", "nope"])
    assert result.exit_code == 2 and "unknown service(s) nope" in result.output


def test_the_readme_table_is_the_declared_access() -> None:
    result = runner.invoke(app, ["kafka", "acls", "--markdown"])
    assert result.exit_code == 0, result.output
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert result.output.strip() in readme, "README Kafka ACLs table is stale: paste `architect kafka acls --markdown`"
