"""`architect agents drift`: each agent's stability and drift from the read models, and recent drift alerts."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from shared.cli.context import console, fail, query_read_models

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
