"""`architect agents drift`: each agent's stability and drift from the read models, and recent drift alerts.
`architect agents token`: an agent's identity token, derived from the deployment's identity secret."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from shared.agent_identity import agent_token
from shared.cli.context import console, fail, query_read_models, settings

app = typer.Typer(help="Agents as the control plane sees them.", no_args_is_help=True)


def _query(sql: str, *args: object) -> list[dict[str, Any]]:
    return query_read_models(sql, *args, models="drift")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in row.items()}


@app.command("drift")
def drift(
    agent_id: str | None = typer.Argument(None, help="One agent (default: every agent the drift monitor scored)"),
    alerts: int = typer.Option(10, "--alerts", min=0, help="How many recent alerts, resets and recoveries to list"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables"),
) -> None:
    """Stability, drift breakdown and status per agent, then the latest drift alerts (most recent first)."""
    where, args = ("WHERE agent_id = %s", (agent_id,)) if agent_id else ("", ())
    agents = _query(f"SELECT * FROM agent_drift {where} ORDER BY stability NULLS LAST, agent_id", *args)
    if agent_id and not agents:
        fail(f"no drift scores for agent {agent_id!r} in the read models")
    history = _query(f"SELECT * FROM drift_alerts {where} ORDER BY at DESC, event_id LIMIT %s", *args, alerts)
    if as_json:
        out = {"agents": [_jsonable(r) for r in agents], "alerts": [_jsonable(r) for r in history]}
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    table = Table(title="Agent drift")
    for column in ("agent", "role", "status", "stability", "drift", "semantic", "format", "tools", "interaction"):
        table.add_column(column)
    for row in agents:
        table.add_row(
            escape(row["agent_id"]),
            row["role"] or "-",
            row["status"] or "-",
            _number(row["stability"]),
            _number(row["drift"]),
            _number(row["semantic"]),
            _number(row["format"]),
            _number(row["tools"]),
            str(row["interaction"] if row["interaction"] is not None else "-"),
        )
    console.print(table)
    if alerts:
        recent = Table(title="Recent drift events")
        for column in ("at", "agent", "kind", "interaction", "stability", "threshold"):
            recent.add_column(column)
        for row in history:
            recent.add_row(
                row["at"].isoformat(timespec="seconds"),
                escape(row["agent_id"]),
                row["kind"],
                str(row["interaction"] if row["interaction"] is not None else "-"),
                _number(row["stability"]),
                _number(row["threshold"]),
            )
        console.print(recent)


@app.command("token")
def token(
    agent_ids: list[str] = typer.Argument(..., help="The agents (their registered agent_id)"),
    as_env: bool = typer.Option(
        False, "--env", help="Print one `agent=token,...` line: the value of ARCHITECT_AGENT_TOKENS for a runtime"
    ),
) -> None:
    """Each agent's token, HMAC-SHA256(ARCHITECT_AGENT_IDENTITY_SECRET, "architect-agent:" + agent id), one a line.

    Give a runtime that must not hold the secret its agents' tokens (ARCHITECT_AGENT_TOKENS); the assigner
    accepts their reports because it derives the same tokens from the secret."""
    for agent_id in agent_ids:
        if not agent_id.strip() or agent_id != agent_id.strip() or {",", "="} & set(agent_id):
            fail(f"{agent_id!r} is not an agent id (no surrounding spaces, commas or '=')", code=2)
    secret = settings().agent_identity_secret
    if secret is None:
        fail(
            "ARCHITECT_AGENT_IDENTITY_SECRET is not set: tokens derive from the deployment's identity secret "
            "(set it to the assigner's, e.g. from the chart's Secret)"
        )
    tokens = {agent_id: agent_token(secret.get_secret_value(), agent_id) for agent_id in agent_ids}
    if as_env:
        typer.echo(",".join(f"{agent_id}={value}" for agent_id, value in tokens.items()))
    else:
        for value in tokens.values():
            typer.echo(value)
