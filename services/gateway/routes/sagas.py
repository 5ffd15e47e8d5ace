"""Sagas: start one (StartSaga), resolve an escalated compensation (ResolveCompensation), abort a running one
(AbortSaga), list and inspect them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Response
from fastapi import status as http_status
from psycopg import sql
from pydantic import Field

from services.gateway.command_bodies import IDENTIFIER_PATTERN, MAX_ID_LENGTH, CommandBody
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
from services.saga_coordinator.abortable import abort_refusal
from shared.events.catalogue.sagas import AbortSaga, ResolveCompensation, StartSaga

router = APIRouter(prefix="/sagas", tags=["sagas"])
SagaIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=IDENTIFIER_PATTERN)]
StepIndexPath = Annotated[int, Path(ge=0, le=1000)]


class StartSagaBody(CommandBody):
    """Run a saga definition: a built-in or configured one by name, or one given whole in ``definition_body``."""

    saga_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH, pattern=IDENTIFIER_PATTERN)
    definition: str = Field(min_length=1, max_length=100, examples=["autopilot_run"])
    params: dict[str, Any] = Field(default_factory=dict)
    definition_body: dict[str, Any] | None = None

    def command(self, *, saga_id: str, started_by: str) -> StartSaga:
        return StartSaga(
            saga_id=saga_id,
            definition=self.definition,
            params=self.params,
            definition_body=self.definition_body,
            started_by=started_by,
        )


class ResolveCompensationBody(CommandBody):
    """How a human resolved an escalated compensation."""

    resolution: Literal["compensated_manually", "retry"]
    comment: str = Field(default="", max_length=2000)


class AbortSagaBody(CommandBody):
    """Why a running saga is being stopped (it ends compensated with this reason)."""

    reason: str = Field(default="", max_length=1000)


class SagaCommandAccepted(View):
    """Kafka stored the command; its effect appears in the read models once the saga coordinator acted on it."""

    saga_id: str
    event_id: uuid.UUID
    command: str = Field(examples=["StartSaga"])


class SagaView(View):
    saga_id: str
    definition: str | None
    version: int | None
    status: str | None
    params: dict[str, Any] | None
    started_by: str | None
    steps_total: int | None
    failed_step: str | None
    escalated_step: str | None
    compensated_steps: list[str] | None
    reason: str | None
    created_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class SagaStepView(View):
    step_index: int
    step_name: str | None
    kind: str | None
    action: str | None
    compensation: str | None
    status: str | None
    attempts: int | None
    task_id: str | None
    last_error: str | None
    output: dict[str, Any] | None
    compensation_status: str | None
    compensation_attempts: int | None
    compensation_task_id: str | None
    compensation_error: str | None
    compensation_manual: bool | None
    updated_at: datetime


class SagaDetail(SagaView):
    steps: list[SagaStepView]


def _saga(conn: Connection, saga_id: str) -> dict[str, Any] | None:
    return conn.execute("SELECT * FROM sagas WHERE saga_id = %s", (saga_id,)).fetchone()


@router.post(
    "",
    operation_id="start_saga",
    status_code=http_status.HTTP_202_ACCEPTED,
    responses=COMMAND_ERRORS,
    summary="Start a saga (publishes StartSaga)",
)
def start_saga(
    caller: SubmitterDep,
    body: StartSagaBody,
    commands: CommandBusDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> SagaCommandAccepted:
    """Publish StartSaga; the saga id is the body's, or one the gateway makes."""
    event_id = command_event_id(caller.name, "start_saga", idempotency_key, fresh=uuid.uuid4())
    saga_id = body.saga_id or f"saga-{event_id.hex[:12]}"
    sent = commands.send(body.command(saga_id=saga_id, started_by=caller.name), stream_id=saga_id, event_id=event_id)
    response.headers["Location"] = f"/sagas/{saga_id}"
    return SagaCommandAccepted(saga_id=saga_id, event_id=sent.event_id, command=sent.type)


@router.post(
    "/{saga_id}/steps/{step_index}/resolve",
    operation_id="resolve_compensation",
    status_code=http_status.HTTP_202_ACCEPTED,
    responses=COMMAND_ERRORS | NOT_FOUND | CONFLICT,
    summary="Resolve an escalated compensation (publishes ResolveCompensation)",
)
def resolve_compensation(
    caller: ApproverDep,
    saga_id: SagaIdPath,
    step_index: StepIndexPath,
    body: ResolveCompensationBody,
    conn: ConnectionDep,
    commands: CommandBusDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> SagaCommandAccepted:
    """Only a saga waiting on that step's escalated compensation accepts a resolution."""
    row = _saga(conn, saga_id)
    if row is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, detail=f"saga {saga_id!r} is not in the read models")
    step = conn.execute(
        "SELECT step_name, compensation_status FROM saga_steps WHERE saga_id = %s AND step_index = %s",
        (saga_id, step_index),
    ).fetchone()
    if step is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, detail=f"saga {saga_id!r} has no step {step_index}")
    if row["status"] != "compensation_escalated" or step["compensation_status"] != "escalated":
        detail = f"step {step['step_name']!r} of saga {saga_id!r} has no escalated compensation (saga {row['status']})"
        raise HTTPException(http_status.HTTP_409_CONFLICT, detail=detail)
    event_id = command_event_id(caller.name, f"resolve:{saga_id}:{step_index}", idempotency_key, fresh=uuid.uuid4())
    payload = ResolveCompensation(
        saga_id=saga_id,
        step_index=step_index,
        resolution=body.resolution,
        resolved_by=caller.name,
        comment=body.comment,
    )
    sent = commands.send(payload, stream_id=saga_id, event_id=event_id)
    return SagaCommandAccepted(saga_id=saga_id, event_id=sent.event_id, command=sent.type)


@router.post(
    "/{saga_id}/abort",
    operation_id="abort_saga",
    status_code=http_status.HTTP_202_ACCEPTED,
    responses=COMMAND_ERRORS | NOT_FOUND | CONFLICT,
    summary="Abort a running saga (publishes AbortSaga)",
)
def abort_saga(
    caller: ApproverDep,
    saga_id: SagaIdPath,
    conn: ConnectionDep,
    commands: CommandBusDep,
    body: AbortSagaBody | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> SagaCommandAccepted:
    """No further step starts, the step in flight is awaited (up to 60 s), the executed steps are compensated in
    reverse order and the saga ends compensated with the reason. Needs the ``approve`` scope, like resolving a
    compensation: it undoes work others started. 404 for a saga the read models do not know, 409 for one that is
    not running (finished, compensating or already aborting)."""
    row = _saga(conn, saga_id)
    if row is None:
        raise HTTPException(http_status.HTTP_404_NOT_FOUND, detail=f"saga {saga_id!r} is not in the read models")
    refusal = abort_refusal(saga_id, row["status"])
    if refusal is not None:
        raise HTTPException(http_status.HTTP_409_CONFLICT, detail=refusal)
    event_id = command_event_id(caller.name, f"abort_saga:{saga_id}", idempotency_key, fresh=uuid.uuid4())
    payload = AbortSaga(saga_id=saga_id, reason=(body or AbortSagaBody()).reason, requested_by=caller.name)
    sent = commands.send(payload, stream_id=saga_id, event_id=event_id)
    return SagaCommandAccepted(saga_id=saga_id, event_id=sent.event_id, command=sent.type)


@router.get("", operation_id="list_sagas", responses=QUERY_ERRORS, summary="List sagas")
def list_sagas(
    _: CallerDep, conn: ConnectionDep, status: StatusQuery = None, limit: LimitQuery = 50, offset: OffsetQuery = 0
) -> Page[SagaView]:
    """Sagas, newest first, optionally only those in ``status``."""
    where = sql.SQL("WHERE status = %s") if status is not None else sql.SQL("")
    query = sql.SQL("SELECT * FROM sagas {} ORDER BY created_at DESC NULLS LAST, saga_id LIMIT %s OFFSET %s").format(
        where
    )
    params = (status,) if status is not None else ()
    rows = conn.execute(query, (*params, limit + 1, offset)).fetchall()
    return page(rows, SagaView, limit=limit, offset=offset)


@router.get(
    "/{saga_id}",
    operation_id="get_saga",
    responses=QUERY_ERRORS | NOT_FOUND,
    summary="A saga with its steps, attempts and compensation results",
)
def get_saga(_: CallerDep, saga_id: SagaIdPath, conn: ConnectionDep) -> SagaDetail:
    with conn.transaction():
        row = _saga(conn, saga_id)
        if row is None:
            raise HTTPException(http_status.HTTP_404_NOT_FOUND, detail=f"saga {saga_id!r} is not in the read models")
        steps = conn.execute("SELECT * FROM saga_steps WHERE saga_id = %s ORDER BY step_index", (saga_id,)).fetchall()
    return SagaDetail(**row, steps=[SagaStepView.model_validate(s) for s in steps])
