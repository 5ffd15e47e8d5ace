"""`architect goals submit|approve|reject|cancel`: the goal commands, published to Kafka like the gateway does."""

from __future__ import annotations

import getpass
import uuid
from typing import Any

import typer
import yaml

from shared.bus.topics import GOALS_COMMANDS
from shared.cli.context import build_command, console, fail, publish_command
from shared.events.catalogue.goals import ApproveGate, CancelGoal, RejectGate, SubmitGoal
from shared.events.envelope import Payload

app = typer.Typer(help="Submit goals and decide their approval gates.", no_args_is_help=True)


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; each value is read as YAML (``true``, ``3``, ``[a, b]``), else kept as text."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"parameter {pair!r} is not key=value")
        try:
            params[key.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            params[key.strip()] = value
    return params


def _publish(goal_id: str, make: type[Payload], **fields: Any) -> None:
    publish_command(build_command(make, goal_id=goal_id, **fields), goal_id, topic=GOALS_COMMANDS)


@app.command("submit")
def submit(
    goal_type: str = typer.Argument(..., help="Goal type, e.g. implement_feature, fix_bug, refactor"),
    title: str = typer.Option("", help="Human-readable title"),
    param: list[str] = typer.Option([], "--param", "-p", help="Goal parameter key=value (repeat)"),
    priority: int = typer.Option(0, min=0, max=10),
    goal_id: str | None = typer.Option(None, "--id", help="Goal id (default: <type>-<random>)"),
    submitted_by: str = typer.Option(getpass.getuser(), "--as", help="Who submits it"),
) -> None:
    """Publish SubmitGoal; prints the goal id."""
    try:
        params = parse_params(param)
    except ValueError as exc:
        fail(str(exc), code=2)
    goal_id = goal_id or f"{goal_type}-{uuid.uuid4().hex[:8]}"
    _publish(
        goal_id,
        SubmitGoal,
        goal_type=goal_type,
        title=title,
        params=params,
        priority=priority,
        submitted_by=submitted_by,
    )
    console.print(goal_id)


@app.command("approve")
def approve(
    goal_id: str = typer.Argument(...),
    task_id: str = typer.Argument(..., help="The gated task (see ApprovalRequested)"),
    approver: str = typer.Option(getpass.getuser(), help="Who approves (checked against the allowed approvers)"),
    comment: str = typer.Option(""),
) -> None:
    """Publish ApproveGate for one gated task."""
    _publish(goal_id, ApproveGate, task_id=task_id, approver=approver, comment=comment)
    console.print(f"approved {task_id} of {goal_id} as {approver}")


@app.command("reject")
def reject(
    goal_id: str = typer.Argument(...),
    task_id: str = typer.Argument(...),
    approver: str = typer.Option(getpass.getuser()),
    reason: str = typer.Option(""),
) -> None:
    """Publish RejectGate for one gated task."""
    _publish(goal_id, RejectGate, task_id=task_id, approver=approver, reason=reason)
    console.print(f"rejected {task_id} of {goal_id} as {approver}")


@app.command("cancel")
def cancel(
    goal_id: str = typer.Argument(...),
    reason: str = typer.Option(""),
    requested_by: str = typer.Option(getpass.getuser(), "--as"),
) -> None:
    """Publish CancelGoal."""
    _publish(goal_id, CancelGoal, reason=reason, requested_by=requested_by)
    console.print(f"cancel requested for {goal_id}")
