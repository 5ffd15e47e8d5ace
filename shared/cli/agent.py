"""`architect agent run|check`: host agents from a fleet file, or one agent described by flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from rich.table import Table

from services.agent_runtime.entry import run_fleet
from services.agent_runtime.fleet_config import FleetConfig, FleetConfigError, load_fleet, parse_fleet
from shared.cli.context import console, fail

app = typer.Typer(help="Agents: host a fleet (assignments, heartbeats, bids, findings).", no_args_is_help=True)


@app.command("run")
def run_command(
    config: Path | None = typer.Option(None, "--config", "-c", help="Fleet YAML file (else one agent from flags)"),
    agent_id: str | None = typer.Option(None, "--agent-id", help="Id of the single agent"),
    role: str = typer.Option("worker", help="worker, manager or high-level"),
    capability: list[str] = typer.Option([], "--capability", help="A capability (repeat for more)"),
    capacity: int = typer.Option(1, help="Tasks the agent runs at once"),
    cost: float = typer.Option(1.0, help="Cost it bids in auctions"),
    model: str = typer.Option("", help="Model name (reported to the assigner, used by the openai backend)"),
    token_budget: int | None = typer.Option(None, help="Cumulative token budget (default: unlimited)"),
    bid: bool = typer.Option(False, help="Bid on announced tasks it can do"),
    backend: str = typer.Option("scripted", help="scripted, callable, subprocess or openai"),
    option: list[str] = typer.Option(
        [], "--option", "-o", help="Backend option key=value; YAML value; dotted keys nest (drift.kind=format)"
    ),
    runtime_id: str | None = typer.Option(None, help="Runtime id (consumer group suffix; default: the agent id)"),
    heartbeat_s: float | None = typer.Option(None, help="Seconds between heartbeats"),
) -> None:
    """Run agents until Ctrl-C / SIGTERM: from --config, or a single agent described by the flags."""
    try:
        if config is not None:
            fleet = load_fleet(config)
        elif agent_id is not None:
            fleet = single_agent_fleet(
                agent_id=agent_id,
                role=role,
                capabilities=capability,
                capacity=capacity,
                cost=cost,
                model=model,
                token_budget=token_budget,
                bid=bid,
                backend=backend,
                options=option,
                runtime_id=runtime_id,
                heartbeat_s=heartbeat_s,
            )
        else:
            fail("give --config FILE, or --agent-id and --capability for a single agent", code=2)
        run_fleet(fleet)
    except FleetConfigError as exc:
        fail(str(exc), code=2)


@app.command("check")
def check_command(config: Path = typer.Argument(..., help="Fleet YAML file")) -> None:
    """Validate a fleet file and list the agents it hosts."""
    try:
        fleet = load_fleet(config)
    except FleetConfigError as exc:
        fail(str(exc), code=2)
    table = Table(title=f"runtime {fleet.runtime.id}: {len(fleet.hosted())} agent(s)")
    for column in ("agent", "role", "capabilities", "capacity", "cost", "model", "budget", "backend", "bids"):
        table.add_column(column)
    for agent in fleet.hosted():
        table.add_row(
            agent.id,
            agent.role,
            ", ".join(agent.capabilities),
            str(agent.capacity),
            f"{agent.cost:g}",
            agent.model or "-",
            str(agent.token_budget) if agent.token_budget is not None else "unlimited",
            agent.backend.kind,
            "yes" if agent.bid else "no",
        )
    console.print(table)


def single_agent_fleet(
    *,
    agent_id: str,
    role: str,
    capabilities: list[str],
    capacity: int,
    cost: float,
    model: str,
    token_budget: int | None,
    bid: bool,
    backend: str,
    options: list[str],
    runtime_id: str | None,
    heartbeat_s: float | None,
) -> FleetConfig:
    """A fleet of one agent from command-line values (validated like a file)."""
    runtime: dict[str, Any] = {"id": runtime_id or agent_id}
    if heartbeat_s is not None:
        runtime["heartbeat_s"] = heartbeat_s
    agent: dict[str, Any] = {
        "id": agent_id,
        "role": role,
        "capabilities": capabilities,
        "capacity": capacity,
        "cost": cost,
        "model": model,
        "token_budget": token_budget,
        "bid": bid,
        "backend": {"kind": backend, **backend_options(options)},
    }
    return parse_fleet({"runtime": runtime, "agents": [agent]})


def backend_options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs as a nested dict; values are read as YAML (numbers, booleans, lists)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise FleetConfigError([f"--option {pair!r}: expected key=value"])
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        *parents, leaf = key.split(".")
        target = options
        for parent in parents:
            nested = target.setdefault(parent, {})
            if not isinstance(nested, dict):
                raise FleetConfigError([f"--option {pair!r}: '{parent}' is already a value"])
            target = nested
        target[leaf] = value
    return options
