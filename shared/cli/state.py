"""`architect state sessions|counters|in-flight`: the fleet's shared CRDT state, from the Postgres read models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from shared.cli.context import console, query_read_models

app = typer.Typer(
    help="Shared state replicated as CRDTs: active sessions, completed-task counters, tasks in flight.",
    no_args_is_help=True,
)


def _query(sql: str, *args: object) -> list[dict[str, Any]]:
    return query_read_models(sql, *args, models="shared-state")


def _ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return f"{(datetime.now(UTC) - moment).total_seconds():,.0f} s ago"


@app.command("sessions")
def sessions() -> None:
    """Agents with a live session in the active-session registry (OR-Set), and which runtime hosts them."""
    rows = _query("SELECT agent_id, sessions, runtimes, started_at FROM active_sessions ORDER BY agent_id")
    table = Table("agent", "runtimes", "sessions", "started", title="active sessions")
    for row in rows:
        table.add_row(
            escape(row["agent_id"]),
            escape(", ".join(row["runtimes"])),
            str(len(row["sessions"])),
            _ago(row["started_at"]),
        )
    console.print(table)


@app.command("counters")
def counters(
    kind: str | None = typer.Option(None, help="agent | capability (default: both)"),
) -> None:
    """Tasks completed per agent and per capability (G-Counters merged over every runtime replica)."""
    if kind is not None and kind not in ("agent", "capability"):
        console.print(f"[red]--kind must be agent or capability, not {escape(kind)}[/red]")
        raise typer.Exit(2)
    rows = _query(
        "SELECT kind, name, completed, by_replica FROM task_counters WHERE %s::text IS NULL OR kind = %s "
        "ORDER BY kind, completed DESC, name",
        kind,
        kind,
    )
    table = Table("kind", "name", "completed", "replicas", title="tasks completed")
    for row in rows:
        table.add_row(row["kind"], escape(row["name"]), f"{row['completed']:,}", str(len(row["by_replica"])))
    console.print(table)


@app.command("in-flight")
def in_flight() -> None:
    """Task attempts in flight per agent (PN-Counters: +1 when an attempt starts, -1 when it ends)."""
    rows = _query(
        "SELECT agent_id, in_flight, started, ended, by_replica FROM tasks_in_flight ORDER BY in_flight DESC, agent_id"
    )
    table = Table("agent", "in flight", "started", "ended", "replicas", title="tasks in flight")
    for row in rows:
        table.add_row(
            escape(row["agent_id"]),
            str(row["in_flight"]),
            f"{row['started']:,}",
            f"{row['ended']:,}",
            str(len(row["by_replica"])),
        )
    console.print(table)
