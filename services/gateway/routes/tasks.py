"""Tasks across goals, by state."""

from __future__ import annotations

from fastapi import APIRouter

from services.gateway import queries
from services.gateway.deps import CallerDep, ConnectionDep, IdQuery, LimitQuery, OffsetQuery, StatusQuery
from services.gateway.errors import QUERY_ERRORS
from services.gateway.views import Page, TaskView, page

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("", operation_id="list_tasks", responses=QUERY_ERRORS, summary="List tasks")
def list_tasks(
    _: CallerDep,
    conn: ConnectionDep,
    status: StatusQuery = None,
    goal_id: IdQuery = None,
    agent_id: IdQuery = None,
    limit: LimitQuery = 50,
    offset: OffsetQuery = 0,
) -> Page[TaskView]:
    """Tasks, most recently changed first; ``status=planned`` lists tasks planned but not yet created."""
    rows = queries.list_tasks(conn, status=status, goal_id=goal_id, agent_id=agent_id, limit=limit, offset=offset)
    return page(rows, TaskView, limit=limit, offset=offset)
