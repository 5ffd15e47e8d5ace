"""Fleet files: defaults, replicas, timeouts by role, and errors that name the agent and field."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.agent_runtime.fleet_config import FleetConfigError, load_fleet, parse_fleet
from shared.cli.agent import backend_options, single_agent_fleet
from shared.cli.main import app

DEMO = Path(__file__).resolve().parents[3] / "services/agent_runtime/fleets/demo.yaml"
SCRIPTED = {"kind": "scripted"}


def test_replicas_expand_into_numbered_agents_and_roles_set_default_timeouts():
    fleet = parse_fleet(
        {
            "agents": [
                {"id": "coder", "capabilities": ["code"], "replicas": 2, "backend": SCRIPTED},
                {"id": "lead", "role": "manager", "capabilities": ["review"], "timeout_s": 5, "backend": SCRIPTED},
                {"id": "boss", "role": "manager", "capabilities": ["review"], "backend": SCRIPTED},
            ]
        }
    )
    assert [a.id for a in fleet.hosted()] == ["coder-1", "coder-2", "lead", "boss"]
    assert fleet.runtime.id == "local"
    timeouts = {a.id: a.default_timeout_s() for a in fleet.hosted()}
    assert timeouts == {"coder-1": 1800, "coder-2": 1800, "lead": 5, "boss": 3600}


def test_errors_name_the_agent_and_the_field():
    with pytest.raises(FleetConfigError) as caught:
        parse_fleet(
            {
                "agents": [
                    {"id": "ok", "capabilities": ["code"], "backend": SCRIPTED},
                    {"id": "bad", "capabilities": [], "backend": {"kind": "scripted", "latency_s": -1}},
                    {"capabilities": ["x"], "backend": {"kind": "telepathy"}},
                ]
            }
        )
    problems = "\n".join(caught.value.problems)
    assert "agent 'bad': capabilities:" in problems
    assert "agent 'bad': backend.latency_s:" in problems
    assert "agent #3: id: Field required" in problems
    assert "agent #3: backend:" in problems and "telepathy" in problems


def test_the_lease_wait_limit_defaults_to_a_minute_and_must_be_positive():
    agents = [{"id": "coder", "capabilities": ["code"], "backend": SCRIPTED}]
    assert parse_fleet({"agents": agents}).runtime.lease_wait_s == 60.0
    assert parse_fleet({"runtime": {"lease_wait_s": 2.5}, "agents": agents}).runtime.lease_wait_s == 2.5
    with pytest.raises(FleetConfigError, match="lease_wait_s"):
        parse_fleet({"runtime": {"lease_wait_s": 0}, "agents": agents})


def test_duplicate_ids_after_expanding_replicas_are_rejected():
    agents = [
        {"id": "coder", "capabilities": ["code"], "replicas": 2, "backend": SCRIPTED},
        {"id": "coder-2", "capabilities": ["code"], "backend": SCRIPTED},
    ]
    with pytest.raises(FleetConfigError, match="'coder-2' is used more than once"):
        parse_fleet({"agents": agents})


def test_files_that_cannot_be_read_or_parsed_are_reported_by_path(tmp_path: Path):
    with pytest.raises(FleetConfigError, match="cannot read"):
        load_fleet(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("agents: [\n")
    with pytest.raises(FleetConfigError, match="not valid YAML"):
        load_fleet(broken)


def test_the_demo_fleet_is_valid_and_hosts_every_capability_the_built_in_methods_need():
    fleet = load_fleet(DEMO)
    capabilities = {c for agent in fleet.hosted() for c in agent.capabilities}
    assert {"design", "code", "test", "review", "deploy", "docs", "analysis", "planning"} <= capabilities


def test_a_bundled_fleet_is_found_by_name_and_a_real_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert load_fleet("demo") == load_fleet(DEMO)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").write_text("agents: [{id: local, capabilities: [x], backend: {kind: scripted}}]")
    assert [a.id for a in load_fleet("demo").hosted()] == ["local"]
    with pytest.raises(FleetConfigError, match="nope: cannot read"):
        load_fleet("nope")


def test_a_single_agent_fleet_from_flags_nests_dotted_options_and_reads_values_as_yaml():
    assert backend_options(["latency_s=0.5", "drift.kind=format", "drift.onset=3"]) == {
        "latency_s": 0.5,
        "drift": {"kind": "format", "onset": 3},
    }
    with pytest.raises(FleetConfigError, match="expected key=value"):
        backend_options(["latency_s"])
    fleet = single_agent_fleet(
        agent_id="solo",
        role="worker",
        capabilities=["code"],
        capacity=2,
        cost=1.0,
        model="",
        token_budget=None,
        bid=True,
        backend="scripted",
        options=["failure_rate=0.5"],
        runtime_id=None,
        heartbeat_s=1.0,
    )
    (agent,) = fleet.hosted()
    assert (fleet.runtime.id, fleet.runtime.heartbeat_s, agent.capacity, agent.bid) == ("solo", 1.0, 2, True)
    assert agent.backend.failure_rate == 0.5  # type: ignore[union-attr]


def test_the_cli_checks_a_fleet_and_rejects_bad_input_with_status_2(tmp_path: Path):
    runner = CliRunner()
    checked = runner.invoke(app, ["agent", "check", str(DEMO)])
    assert checked.exit_code == 0, checked.output
    assert "runtime demo: 10 agent(s)" in checked.output
    assert runner.invoke(app, ["agent", "check", str(tmp_path / "none.yaml")]).exit_code == 2
    assert runner.invoke(app, ["agent", "run"]).exit_code == 2
    bad = runner.invoke(app, ["agent", "run", "--agent-id", "x", "--capability", "code", "-o", "latency_s=-1"])
    assert bad.exit_code == 2
