"""Goals: submit and cancel (commands), list, inspect with their task DAG, and follow their timeline."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Response
from fastapi import status as http_status

from services.gateway import queries
from services.gateway.command_bodies import CancelGoalBody, SubmitGoalBody
from services.gateway.command_ids import command_event_id, generated_goal_id
from services.gateway.deps import (
    CallerDep,
    CommandBusDep,
    ConnectionDep,
    GoalIdPath,
    IdempotencyKeyHeader,
    KnownGoalDep,
    LimitQuery,
    OffsetQuery,
    StatusQuery,
    SubmitterDep,
)
from services.gateway.errors import COMMAND_ERRORS, CONFLICT, NOT_FOUND, QUERY_ERRORS
from services.gateway.views import (
    ApprovalView,
    GoalCommandAccepted,
    GoalDetail,
    GoalView,
    Page,
    TaskView,
    TimelineEvent,
    page,
)

router = APIRouter(prefix="/goals", tags=["goals"])


@router.post(
    "",
    operation_id="submit_goal",
    status_code=http_status.HTTP_202_ACCEPTED,
    responses=COMMAND_ERRORS,
    summary="Submit a goal (publishes SubmitGoal)",
)
def submit_goal(
    caller: SubmitterDep,
    body: SubmitGoalBody,
    commands: CommandBusDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> GoalCommandAccepted:
    """Publish a SubmitGoal command; the goal id is the body's, or one the gateway makes."""
    event_id = command_event_id(caller.name, "submit_goal", idempotency_key, fresh=uuid.uuid4())
    goal_id = body.goal_id or generated_goal_id(event_id)
    sent = commands.send(body.command(goal_id=goal_id, submitted_by=caller.name), stream_id=goal_id, event_id=event_id)
    response.headers["Location"] = f"/goals/{goal_id}"
    return GoalCommandAccepted(goal_id=goal_id, event_id=sent.event_id, command=sent.type)


@router.post(
    "/{goal_id}/cancel",
    operation_id="cancel_goal",
    status_code=http_status.HTTP_202_ACCEPTED,
    responses=COMMAND_ERRORS | NOT_FOUND | CONFLICT,
    summary="Cancel a goal (publishes CancelGoal)",
)
def cancel_goal(
    caller: SubmitterDep,
    goal: KnownGoalDep,
    commands: CommandBusDep,
    body: CancelGoalBody | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> GoalCommandAccepted:
    """Publish a CancelGoal command for a goal that is not finished."""
    if goal.finished:
        raise HTTPException(http_status.HTTP_409_CONFLICT, detail=f"goal {goal.goal_id!r} is already {goal.status}")
    event_id = command_event_id(caller.name, f"cancel_goal:{goal.goal_id}", idempotency_key, fresh=uuid.uuid4())
    payload = (body or CancelGoalBody()).command(goal_id=goal.goal_id, requested_by=caller.name)
    sent = commands.send(payload, stream_id=goal.goal_id, event_id=event_id)
    return GoalCommandAccepted(goal_id=goal.goal_id, event_id=sent.event_id, command=sent.type)


@router.get("", operation_id="list_goals", responses=QUERY_ERRORS, summary="List goals")
def list_goals(
    _: CallerDep, conn: ConnectionDep, status: StatusQuery = None, limit: LimitQuery = 50, offset: OffsetQuery = 0
) -> Page[GoalView]:
    """Goals, newest first, optionally only those in ``status``."""
    rows = queries.list_goals(conn, status=status, limit=limit, offset=offset)
    return page(rows, GoalView, limit=limit, offset=offset)


@router.get(
    "/{goal_id}", operation_id="get_goal", responses=QUERY_ERRORS | NOT_FOUND, summary="A goal with its task DAG"
)
def get_goal(_: CallerDep, goal_id: GoalIdPath, conn: ConnectionDep) -> GoalDetail:
    """The goal, its tasks (with dependencies and status) and the approvals it waits for, from one snapshot."""
    with conn.transaction():
        row = queries.goal(conn, goal_id)
        if row is None:
            raise HTTPException(http_status.HTTP_404_NOT_FOUND, detail=f"goal {goal_id!r} is not in the read models")
        tasks = queries.goal_tasks(conn, goal_id)
        approvals = queries.pending_approvals(conn, goal_id)
    return GoalDetail(
        **row,
        tasks=[TaskView.model_validate(t) for t in tasks],
        pending_approvals=[ApprovalView.model_validate(a) for a in approvals],
    )


@router.get(
    "/{goal_id}/timeline",
    operation_id="get_goal_timeline",
    responses=QUERY_ERRORS | NOT_FOUND,
    summary="A goal's events in order, with causation ids",
)
def get_goal_timeline(
    _: CallerDep, goal_id: GoalIdPath, conn: ConnectionDep, limit: LimitQuery = 500, offset: OffsetQuery = 0
) -> Page[TimelineEvent]:
    """Every logged event correlated with the goal, ordered by when it occurred."""
    rows = queries.goal_timeline(conn, goal_id, limit=limit, offset=offset)
    if not rows and offset == 0 and queries.goal(conn, goal_id) is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, detail=f"goal {goal_id!r} has no events in the read models")
    return page(rows, TimelineEvent, limit=limit, offset=offset)
