"""`architect sagas start|list|show|resolve|report|abort`: run sagas and look at them in the read models."""

from __future__ import annotations

import getpass
import uuid
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from services.saga_coordinator.abortable import abort_refusal
from services.saga_coordinator.definitions import SagaDefinitionError, load_definition_file
from shared.cli.context import build_command, console, fail, publish_command, query_read_models
from shared.cli.goals import parse_params
from shared.events.catalogue.sagas import AbortSaga, ReportSagaActionResult, ResolveCompensation, StartSaga
from shared.events.envelope import Payload

app = typer.Typer(help="Sagas: multi-step runs with compensations.", no_args_is_help=True)


def _publish(saga_id: str, make: type[Payload], **fields: Any) -> None:
    publish_command(build_command(make, saga_id=saga_id, **fields), saga_id)


def _query(sql: str, *args: object) -> list[dict[str, Any]]:
    return query_read_models(sql, *args, models="saga")


def _steps(saga_id: str) -> list[dict[str, Any]]:
    return _query("SELECT * FROM saga_steps WHERE saga_id = %s ORDER BY step_index", saga_id)


def _step_index(saga_id: str, step: str) -> int:
    """A step given by name or index, checked against the read model."""
    steps = _steps(saga_id)
    if not steps:
        fail(f"no saga {saga_id!r} in the read models")
    for row in steps:
        if row["step_name"] == step or str(row["step_index"]) == step:
            return int(row["step_index"])
    fail(f"saga {saga_id} has no step {step!r} (steps: {', '.join(r['step_name'] for r in steps)})", code=2)


@app.command("start")
def start(
    definition: str = typer.Argument(..., help="A definition's name (built-in or configured) or a YAML file"),
    param: list[str] = typer.Option([], "--param", "-p", help="Saga parameter key=value (repeat)"),
    saga_id: str | None = typer.Option(None, "--id", help="Saga id (default: saga-<definition>-<random>)"),
    started_by: str = typer.Option(getpass.getuser(), "--as", help="Who starts it"),
) -> None:
    """Publish StartSaga; prints the saga id. A YAML file is validated here and sent whole."""
    try:
        params = parse_params(param)
    except ValueError as exc:
        fail(str(exc), code=2)
    body: dict[str, Any] | None = None
    if definition.endswith((".yaml", ".yml")) or Path(definition).is_file():
        try:
            loaded = load_definition_file(definition)
        except SagaDefinitionError as exc:
            fail(str(exc), code=2)
        # Sent as written (the coordinator validates the same YAML form again).
        body, definition = yaml.safe_load(Path(definition).read_text(encoding="utf-8")), loaded.name
    saga_id = saga_id or f"saga-{definition}-{uuid.uuid4().hex[:8]}"
    _publish(saga_id, StartSaga, definition=definition, params=params, definition_body=body, started_by=started_by)
    console.print(saga_id)


@app.command("list")
def list_sagas(
    status: str | None = typer.Option(None, help="Only sagas in this status (running, compensated, ...)"),
    limit: int = typer.Option(50, help="Show at most this many, newest first"),
) -> None:
    """Sagas from the read model, newest first."""
    rows = _query(
        "SELECT * FROM sagas WHERE (%s::text IS NULL OR status = %s) ORDER BY created_at DESC NULLS LAST LIMIT %s",
        status,
        status,
        limit,
    )
    table = Table("saga", "definition", "status", "steps", "failed step", "started by", "started at", title="sagas")
    for row in rows:
        table.add_row(
            escape(row["saga_id"]),
            escape(row["definition"] or ""),
            escape(row["status"] or ""),
            str(row["steps_total"] or ""),
            escape(row["failed_step"] or ""),
            escape(row["started_by"] or ""),
            str(row["created_at"] or ""),
        )
    console.print(table)


@app.command("show")
def show(saga_id: str) -> None:
    """One saga: its status and every step with attempts and compensation results."""
    rows = _query("SELECT * FROM sagas WHERE saga_id = %s", saga_id)
    if not rows:
        fail(f"no saga {saga_id!r} in the read models")
    saga = rows[0]
    console.print(f"[bold]saga[/] {escape(saga_id)}  [bold]definition[/] {escape(saga['definition'] or '')}")
    console.print(
        f"[bold]status[/] {escape(saga['status'] or '')}  [bold]started by[/] {escape(saga['started_by'] or '')}"
    )
    if saga["params"]:
        console.print(f"[bold]params[/] {escape(str(saga['params']))}")
    if saga["failed_step"]:
        console.print(f"[bold]failed step[/] {escape(saga['failed_step'])}")
    if saga["compensated_steps"]:
        console.print(f"[bold]compensated[/] {escape(', '.join(saga['compensated_steps']))}")
    if saga["reason"]:
        console.print(f"[bold]reason[/] {escape(saga['reason'])}")
    table = Table(
        "#", "step", "action", "status", "attempts", "error", "compensation", "comp. status", "comp. attempts"
    )
    for step in _steps(saga_id):
        manual = " (by hand)" if step["compensation_manual"] else ""
        table.add_row(
            str(step["step_index"]),
            escape(step["step_name"] or ""),
            escape(f"{step['kind'] or ''}:{step['action'] or ''}"),
            escape(step["status"] or ""),
            str(step["attempts"] or 0),
            escape((step["last_error"] or "")[:60]),
            escape(step["compensation"] or "-"),
            escape((step["compensation_status"] or "") + manual),
            str(step["compensation_attempts"] or ""),
        )
    console.print(table)


@app.command("resolve")
def resolve(
    saga_id: str = typer.Argument(...),
    step: str = typer.Argument(..., help="The escalated step (name or index)"),
    retry: bool = typer.Option(False, "--retry", help="Run the compensation again with a fresh retry budget"),
    manual: bool = typer.Option(False, "--manual", help="The effects were undone by hand"),
    resolved_by: str = typer.Option(getpass.getuser(), "--as"),
    comment: str = typer.Option(""),
) -> None:
    """Publish ResolveCompensation for an escalated compensation."""
    if retry == manual:
        fail("give exactly one of --retry or --manual", code=2)
    index = _step_index(saga_id, step)
    resolution = "retry" if retry else "compensated_manually"
    _publish(
        saga_id, ResolveCompensation, step_index=index, resolution=resolution, resolved_by=resolved_by, comment=comment
    )
    console.print(f"{resolution} for step {step} of {saga_id}")


@app.command("report")
def report(
    saga_id: str = typer.Argument(...),
    step: str = typer.Argument(..., help="The command step (name or index)"),
    attempt: int = typer.Option(1, min=1),
    failed: bool = typer.Option(False, "--failed", help="The command failed (default: it succeeded)"),
    error: str = typer.Option(""),
    not_retryable: bool = typer.Option(False, "--not-retryable", help="Do not retry this failure"),
    compensation: bool = typer.Option(False, "--compensation", help="Answer the step's compensation"),
    round_: int = typer.Option(0, "--round", min=0, help="Compensation round (after a --retry resolution)"),
    reported_by: str = typer.Option(getpass.getuser(), "--as"),
) -> None:
    """Publish ReportSagaActionResult: the outcome of a command step (or compensation) carried out elsewhere."""
    index = _step_index(saga_id, step)
    _publish(
        saga_id,
        ReportSagaActionResult,
        phase="compensation" if compensation else "step",
        step_index=index,
        attempt=attempt,
        round=round_,
        outcome="failed" if failed else "succeeded",
        error=error,
        retryable=not not_retryable,
        reported_by=reported_by,
    )
    console.print(f"reported {'failure' if failed else 'success'} of step {step} (attempt {attempt}) of {saga_id}")


@app.command("abort")
def abort(
    saga_id: str = typer.Argument(...),
    reason: str = typer.Option("", "--reason", help="Why (the saga ends compensated with it; default: aborted by WHO)"),
    requested_by: str = typer.Option(getpass.getuser(), "--as", help="Who aborts it"),
) -> None:
    """Publish AbortSaga for a running saga: no further step starts, the step in flight is awaited (up to 60 s),
    and the executed steps are compensated in reverse order; the saga ends compensated with the reason."""
    command = build_command(AbortSaga, saga_id=saga_id, reason=reason, requested_by=requested_by)
    rows = _query("SELECT status FROM sagas WHERE saga_id = %s", saga_id)
    if not rows:
        fail(f"no saga {saga_id!r} in the read models")
    refusal = abort_refusal(saga_id, rows[0]["status"])
    if refusal is not None:
        fail(refusal)
    publish_command(command, saga_id)
    console.print(f"abort of {escape(saga_id)} requested{': ' + escape(reason) if reason else ''}")
