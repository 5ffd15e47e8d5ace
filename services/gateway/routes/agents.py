"""Agents: register one (command), list the fleet with load, breaker state and liveness."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi import status as http_status

from services.gateway import queries
from services.gateway.command_bodies import RegisterAgentBody
from services.gateway.command_ids import command_event_id
from services.gateway.deps import (
    AdminDep,
    CallerDep,
    CommandBusDep,
    ConnectionDep,
    IdempotencyKeyHeader,
    LimitQuery,
    OffsetQuery,
    StatusQuery,
)
from services.gateway.errors import COMMAND_ERRORS, QUERY_ERRORS
from services.gateway.views import AgentCommandAccepted, AgentView, Page, page

router = APIRouter(prefix="/agents", tags=["agents"])


@router.post(
    "",
    operation_id="register_agent",
    status_code=http_status.HTTP_202_ACCEPTED,
    responses=COMMAND_ERRORS,
    summary="Register an agent (publishes RegisterAgent)",
)
def register_agent(
    caller: AdminDep, body: RegisterAgentBody, commands: CommandBusDep, idempotency_key: IdempotencyKeyHeader = None
) -> AgentCommandAccepted:
    """Publish RegisterAgent; the assigner adds the agent to the fleet."""
    event_id = command_event_id(caller.name, "register_agent", idempotency_key, fresh=uuid.uuid4())
    sent = commands.send(body.command(), stream_id=body.agent_id, event_id=event_id)
    return AgentCommandAccepted(agent_id=body.agent_id, event_id=sent.event_id, command=sent.type)


@router.get("", operation_id="list_agents", responses=QUERY_ERRORS, summary="List agents")
def list_agents(
    _: CallerDep, conn: ConnectionDep, status: StatusQuery = None, limit: LimitQuery = 50, offset: OffsetQuery = 0
) -> Page[AgentView]:
    """Agents by id, with capacity, load, breaker state, status and last heartbeat."""
    rows = queries.list_agents(conn, status=status, limit=limit, offset=offset)
    return page(rows, AgentView, limit=limit, offset=offset)
