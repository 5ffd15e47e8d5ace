"""Decisions: ask agents to decide (RequestDecision), resolve an escalated one (ResolveDecision), list and inspect
them with their full audit trail (rounds, every vote with weight and rationale, the debate)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Response
from fastapi import status as http_status
from psycopg import sql
from pydantic import Field

from services.gateway.command_bodies import MAX_ID_LENGTH, CommandBody
from services.gateway.command_ids import command_event_id
from services.gateway.deps import (
    ApproverDep,
    CallerDep,
    CommandBusDep,
    ConnectionDep,
    IdempotencyKeyHeader,
    LimitQuery,
    OffsetQuery,
    StatusQuery,
    SubmitterDep,
)
from services.gateway.errors import COMMAND_ERRORS, CONFLICT, NOT_FOUND, QUERY_ERRORS
from services.gateway.read_models import Connection
from services.gateway.views import Page, View, page
from shared.events.catalogue.decisions import RequestDecision, ResolveDecision

DECISION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
router = APIRouter(prefix="/decisions", tags=["decisions"])
DecisionIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=DECISION_ID_PATTERN)]


class RequestDecisionBody(CommandBody):
    """A question for ``electorate`` to decide under ``tier``'s policy (or one vote by ``protocol``)."""

    decision_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH, pattern=DECISION_ID_PATTERN)
    question: str = Field(min_length=1, max_length=2000, examples=["Is it safe to deploy?"])
    tier: Literal["strategic", "tactical", "operational"]
    electorate: list[str] = Field(min_length=1, max_length=1000)
    options: list[str] | None = None
    deadline: datetime | None = None
    protocol: Literal["majority", "supermajority", "unanimity", "weighted", "bft"] | None = None
    ballot_via: Literal["tasks", "commands"] = "tasks"
    context: dict[str, Any] = Field(default_factory=dict)


class ResolveDecisionBody(CommandBody):
    choice: str = Field(min_length=1, max_length=500)
    comment: str = Field(default="", max_length=2000)


class DecisionCommandAccepted(View):
    """Kafka stored the command; its effect appears in the read models once the consensus engine acted on it."""

    decision_id: str
    event_id: uuid.UUID
    command: str = Field(examples=["RequestDecision"])


class DecisionView(View):
    decision_id: str
    question: str | None
    tier: str | None
    status: str | None
    electorate: list[str] | None
    options: list[str] | None
    protocol_override: str | None
    ballot_via: str | None
    requested_by: str | None
    current_round: int | None
    choice: str | None
    decided_protocol: str | None
    decided_by: str | None
    final_tally: dict[str, float] | None
    reason: str | None
    requires_approval: bool | None
    positions: dict[str, str] | None
    deadline: datetime | None
    created_at: datetime | None
    decided_at: datetime | None
    updated_at: datetime


class RoundView(View):
    round: int
    kind: str | None
    protocol: str | None
    term: int | None
    deadline: datetime | None
    opened_at: datetime | None
    closed_at: datetime | None
    why: str | None
    outcome_choice: str | None
    round_tally: dict[str, float] | None
    round_reasons: list[str] | None
    flagged: list[str] | None


class VoteView(View):
    round: int
    voter: str
    choice: str
    weight: float | None
    rationale: str | None
    term: int | None
    status: str | None
    reason: str | None
    recorded_at: datetime | None


class ContributionView(View):
    round: int
    phase: str
    agent: str
    text: str | None
    position: str | None
    status: str | None
    reason: str | None


class DecisionDetail(DecisionView):
    weights: dict[str, float] | None
    policy: dict[str, Any] | None
    rounds: list[RoundView]
    votes: list[VoteView]
    contributions: list[ContributionView]


def _decision(conn: Connection, decision_id: str) -> dict[str, Any] | None:
    return conn.execute("SELECT * FROM decisions WHERE decision_id = %s", (decision_id,)).fetchone()


@router.post(
    "",
    operation_id="request_decision",
    status_code=http_status.HTTP_202_ACCEPTED,
    responses=COMMAND_ERRORS,
    summary="Ask agents to decide a question (publishes RequestDecision)",
)
def request_decision(
    caller: SubmitterDep,
    body: RequestDecisionBody,
    commands: CommandBusDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> DecisionCommandAccepted:
    event_id = command_event_id(caller.name, "request_decision", idempotency_key, fresh=uuid.uuid4())
    decision_id = body.decision_id or f"dec-{event_id.hex[:12]}"
    fields = body.model_dump(exclude={"decision_id"})
    command = RequestDecision(decision_id=decision_id, requested_by=caller.name, **fields)
    sent = commands.send(command, stream_id=decision_id, event_id=event_id)
    response.headers["Location"] = f"/decisions/{decision_id}"
    return DecisionCommandAccepted(decision_id=decision_id, event_id=sent.event_id, command=sent.type)


@router.post(
    "/{decision_id}/resolve",
    operation_id="resolve_decision",
    status_code=http_status.HTTP_202_ACCEPTED,
    responses=COMMAND_ERRORS | NOT_FOUND | CONFLICT,
    summary="A human decides an escalated decision (publishes ResolveDecision)",
)
def resolve_decision(
    caller: ApproverDep,
    decision_id: DecisionIdPath,
    body: ResolveDecisionBody,
    conn: ConnectionDep,
    commands: CommandBusDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> DecisionCommandAccepted:
    """Only an escalated decision accepts a resolution, and only one of its options when it has options."""
    row = _decision(conn, decision_id)
    if row is None:
        raise HTTPException(
            http_status.HTTP_404_NOT_FOUND, detail=f"decision {decision_id!r} is not in the read models"
        )
    if row["status"] != "escalated":
        raise HTTPException(http_status.HTTP_409_CONFLICT, detail=f"decision {decision_id!r} is {row['status']}")
    if row["options"] and body.choice not in row["options"]:
        detail = f"{body.choice!r} is not one of the options {row['options']}"
        raise HTTPException(http_status.HTTP_409_CONFLICT, detail=detail)
    event_id = command_event_id(caller.name, f"resolve_decision:{decision_id}", idempotency_key, fresh=uuid.uuid4())
    payload = ResolveDecision(
        decision_id=decision_id, choice=body.choice, resolved_by=caller.name, comment=body.comment
    )
    sent = commands.send(payload, stream_id=decision_id, event_id=event_id)
    return DecisionCommandAccepted(decision_id=decision_id, event_id=sent.event_id, command=sent.type)


@router.get("", operation_id="list_decisions", responses=QUERY_ERRORS, summary="List decisions")
def list_decisions(
    _: CallerDep, conn: ConnectionDep, status: StatusQuery = None, limit: LimitQuery = 50, offset: OffsetQuery = 0
) -> Page[DecisionView]:
    """Decisions, newest first, optionally only those in ``status`` (open, reached, escalated)."""
    where = sql.SQL("WHERE status = %s") if status is not None else sql.SQL("")
    query = sql.SQL(
        "SELECT * FROM decisions {} ORDER BY created_at DESC NULLS LAST, decision_id LIMIT %s OFFSET %s"
    ).format(where)
    params = (status,) if status is not None else ()
    rows = conn.execute(query, (*params, limit + 1, offset)).fetchall()
    return page(rows, DecisionView, limit=limit, offset=offset)


@router.get(
    "/{decision_id}",
    operation_id="get_decision",
    responses=QUERY_ERRORS | NOT_FOUND,
    summary="A decision with its rounds, every vote (weight, rationale, counted or not) and its debate",
)
def get_decision(_: CallerDep, decision_id: DecisionIdPath, conn: ConnectionDep) -> DecisionDetail:
    with conn.transaction():
        row = _decision(conn, decision_id)
        if row is None:
            detail = f"decision {decision_id!r} is not in the read models"
            raise HTTPException(http_status.HTTP_404_NOT_FOUND, detail=detail)
        rounds = conn.execute(
            "SELECT * FROM decision_rounds WHERE decision_id = %s ORDER BY round", (decision_id,)
        ).fetchall()
        votes = conn.execute(
            "SELECT * FROM decision_votes WHERE decision_id = %s ORDER BY round, recorded_at, voter", (decision_id,)
        ).fetchall()
        debate = conn.execute(
            "SELECT * FROM decision_contributions WHERE decision_id = %s ORDER BY round, updated_at, agent",
            (decision_id,),
        ).fetchall()
    return DecisionDetail(
        **row,
        rounds=[RoundView.model_validate(r) for r in rounds],
        votes=[VoteView.model_validate(v) for v in votes],
        contributions=[ContributionView.model_validate(c) for c in debate],
    )
