"""Approval gates: approve or reject a gated task (commands, as the caller), and list gates."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException
from fastapi import status as http_status

from services.gateway import queries
from services.gateway.command_bodies import ApproveGateBody, RejectGateBody
from services.gateway.command_ids import command_event_id
from services.gateway.deps import (
    ApproverDep,
    CallerDep,
    CommandBusDep,
    ConnectionDep,
    IdempotencyKeyHeader,
    IdQuery,
    KnownGoal,
    KnownGoalDep,
    LimitQuery,
    OffsetQuery,
    StatusQuery,
    TaskIdPath,
)
from services.gateway.errors import COMMAND_ERRORS, CONFLICT, NOT_FOUND, QUERY_ERRORS
from services.gateway.read_models import Connection
from services.gateway.views import ApprovalView, GoalCommandAccepted, Page, page

router = APIRouter(tags=["approvals"])
GATE = "/goals/{goal_id}/approvals/{task_id:path}"  # task ids hold slashes: goal/step


def _ensure_pending(conn: Connection, goal: KnownGoal, task_id: str) -> None:
    """404 when no approval was requested for the task, 409 when the goal is finished or the gate decided."""
    if goal.finished:
        raise HTTPException(http_status.HTTP_409_CONFLICT, detail=f"goal {goal.goal_id!r} is already {goal.status}")
    gate = queries.approval(conn, goal.goal_id, task_id)
    if gate is None:
        raise HTTPException(
            http_status.HTTP_404_NOT_FOUND,
            detail=f"no approval was requested for task {task_id!r} of goal {goal.goal_id!r}",
        )
    if gate["status"] != "pending":
        raise HTTPException(
            http_status.HTTP_409_CONFLICT,
            detail=f"the gate of task {task_id!r} was already {gate['status']} by {gate['approver']!r}",
        )


@router.post(
    f"{GATE}/approve",
    operation_id="approve_gate",
    status_code=http_status.HTTP_202_ACCEPTED,
    responses=COMMAND_ERRORS | NOT_FOUND | CONFLICT,
    summary="Approve a gated task (publishes ApproveGate)",
)
def approve_gate(
    caller: ApproverDep,
    goal: KnownGoalDep,
    task_id: TaskIdPath,
    conn: ConnectionDep,
    commands: CommandBusDep,
    body: ApproveGateBody | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> GoalCommandAccepted:
    """Publish ApproveGate with the caller as approver."""
    _ensure_pending(conn, goal, task_id)
    operation = f"approve_gate:{goal.goal_id}:{task_id}"
    event_id = command_event_id(caller.name, operation, idempotency_key, fresh=uuid.uuid4())
    payload = (body or ApproveGateBody()).command(goal_id=goal.goal_id, task_id=task_id, approver=caller.name)
    sent = commands.send(payload, stream_id=goal.goal_id, event_id=event_id)
    return GoalCommandAccepted(goal_id=goal.goal_id, event_id=sent.event_id, command=sent.type)


@router.post(
    f"{GATE}/reject",
    operation_id="reject_gate",
    status_code=http_status.HTTP_202_ACCEPTED,
    responses=COMMAND_ERRORS | NOT_FOUND | CONFLICT,
    summary="Reject a gated task (publishes RejectGate; the goal fails)",
)
def reject_gate(
    caller: ApproverDep,
    goal: KnownGoalDep,
    task_id: TaskIdPath,
    conn: ConnectionDep,
    commands: CommandBusDep,
    body: RejectGateBody | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> GoalCommandAccepted:
    """Publish RejectGate with the caller as approver."""
    _ensure_pending(conn, goal, task_id)
    operation = f"reject_gate:{goal.goal_id}:{task_id}"
    event_id = command_event_id(caller.name, operation, idempotency_key, fresh=uuid.uuid4())
    payload = (body or RejectGateBody()).command(goal_id=goal.goal_id, task_id=task_id, approver=caller.name)
    sent = commands.send(payload, stream_id=goal.goal_id, event_id=event_id)
    return GoalCommandAccepted(goal_id=goal.goal_id, event_id=sent.event_id, command=sent.type)


@router.get("/approvals", operation_id="list_approvals", responses=QUERY_ERRORS, summary="List approval gates")
def list_approvals(
    _: CallerDep,
    conn: ConnectionDep,
    status: StatusQuery = None,
    goal_id: IdQuery = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[ApprovalView]:
    """Gates, longest waiting first; ``status=pending`` lists those waiting for a human."""
    rows = queries.list_approvals(conn, status=status, goal_id=goal_id, limit=limit, offset=offset)
    return page(rows, ApprovalView, limit=limit, offset=offset)
