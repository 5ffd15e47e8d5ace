"""Shared state replicated as CRDTs, from the read models: active sessions (OR-Set), completed-task counters
(G-Counters), task attempts in flight per agent (PN-Counters) and file-edit leases (the lock manager's LWW map)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from psycopg import sql

from services.gateway.deps import CallerDep, ConnectionDep, LimitQuery, OffsetQuery
from services.gateway.errors import QUERY_ERRORS
from services.gateway.views import Page, View, page

router = APIRouter(tags=["shared state"])


class SessionView(View):
    agent_id: str
    sessions: list[str]
    runtimes: list[str]
    started_at: datetime | None
    updated_at: datetime


class CounterView(View):
    kind: str
    name: str
    completed: int
    by_replica: dict[str, int]
    updated_at: datetime


class InFlightView(View):
    agent_id: str
    in_flight: int
    started: int
    ended: int
    by_replica: dict[str, int]
    updated_at: datetime


class LockView(View):
    path: str
    holder: str | None
    request_id: str | None
    task_id: str | None
    granted_at: datetime | None
    expires_at: datetime | None
    live: bool
    denied: list[str]
    updated_at: datetime


@router.get("/sessions", operation_id="list_sessions", responses=QUERY_ERRORS, summary="Active agent sessions")
def list_sessions(
    _: CallerDep, conn: ConnectionDep, limit: LimitQuery = 100, offset: OffsetQuery = 0
) -> Page[SessionView]:
    """Agents with a live session in the active-session registry, by agent id."""
    rows = conn.execute(
        "SELECT * FROM active_sessions ORDER BY agent_id LIMIT %s OFFSET %s", (limit + 1, offset)
    ).fetchall()
    return page(rows, SessionView, limit=limit, offset=offset)


@router.get("/counters", operation_id="list_counters", responses=QUERY_ERRORS, summary="Completed-task counters")
def list_counters(
    _: CallerDep,
    conn: ConnectionDep,
    kind: Literal["agent", "capability"] | None = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> Page[CounterView]:
    """Tasks completed per agent and per capability, most first."""
    where = sql.SQL("WHERE kind = %s") if kind is not None else sql.SQL("")
    query = sql.SQL("SELECT * FROM task_counters {} ORDER BY kind, completed DESC, name LIMIT %s OFFSET %s")
    params: tuple[Any, ...] = (kind,) if kind is not None else ()
    rows = conn.execute(query.format(where), (*params, limit + 1, offset)).fetchall()
    return page(rows, CounterView, limit=limit, offset=offset)


@router.get("/in-flight", operation_id="list_in_flight", responses=QUERY_ERRORS, summary="Tasks in flight per agent")
def list_in_flight(
    _: CallerDep, conn: ConnectionDep, limit: LimitQuery = 100, offset: OffsetQuery = 0
) -> Page[InFlightView]:
    """Task attempts in flight per agent (started minus ended over every runtime replica), most first."""
    rows = conn.execute(
        "SELECT * FROM tasks_in_flight ORDER BY in_flight DESC, agent_id LIMIT %s OFFSET %s", (limit + 1, offset)
    ).fetchall()
    return page(rows, InFlightView, limit=limit, offset=offset)


@router.get("/locks", operation_id="list_locks", responses=QUERY_ERRORS, summary="File-edit leases")
def list_locks(
    _: CallerDep,
    conn: ConnectionDep,
    include_expired: bool = Query(False, alias="all", description="Include expired leases"),
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> Page[LockView]:
    """Leases on file paths as the lock manager last replicated them (held now unless ``all=true``)."""
    where = sql.SQL("") if include_expired else sql.SQL("WHERE expires_at > now()")
    query = sql.SQL(
        "SELECT *, coalesce(expires_at > now(), false) AS live FROM file_locks {} ORDER BY path LIMIT %s OFFSET %s"
    )
    rows = conn.execute(query.format(where), (limit + 1, offset)).fetchall()
    return page(rows, LockView, limit=limit, offset=offset)
