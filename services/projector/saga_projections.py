"""Saga read models: ``sagas`` (one row per run) and ``saga_steps`` (state, attempts, compensation results).

Every column here is written from ``architect.sagas.events`` only; step results that arrive as task events are
restated by the coordinator as saga events, so one ordered stream per saga decides each row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from shared.events.envelope import Envelope

if TYPE_CHECKING:
    from services.projector.projections import RowChange

Projector = Callable[[Envelope[Any]], Iterable["RowChange"]]

SAGA_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sagas": (
        ("saga_id",),
        (
            "saga_id",
            "definition",
            "version",
            "status",
            "params",
            "started_by",
            "steps_total",
            "failed_step",
            "escalated_step",
            "compensated_steps",
            "reason",
            "created_at",
            "finished_at",
            "updated_at",
        ),
    ),
    "saga_steps": (
        ("saga_id", "step_index"),
        (
            "saga_id",
            "step_index",
            "step_name",
            "kind",
            "action",
            "compensation",
            "status",
            "attempts",
            "task_id",
            "last_error",
            "output",
            "compensation_status",
            "compensation_attempts",
            "compensation_task_id",
            "compensation_error",
            "compensation_manual",
            "updated_at",
        ),
    ),
}
SAGA_JSON_COLUMNS = {"params", "compensated_steps", "output"}


def _row(table: str, key: tuple[Any, ...], columns: dict[str, Any]) -> RowChange:
    # Imported here: projections.py registers this module's tables at its end, so a top-level import would cycle.
    from services.projector.projections import RowChange

    return RowChange(table, key, columns)


def _saga(e: Envelope[Any], **columns: Any) -> RowChange:
    return _row("sagas", (e.payload.saga_id,), {"updated_at": e.occurred_at, **columns})


def _step(e: Envelope[Any], index: int | None = None, **columns: Any) -> RowChange:
    p = e.payload
    key = (p.saga_id, p.step_index if index is None else index)
    return _row("saga_steps", key, {"updated_at": e.occurred_at, **columns})


def _started(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _saga(
        e,
        definition=p.definition,
        version=p.version,
        status="running",
        params=p.params,
        started_by=p.started_by,
        steps_total=len(p.steps),
        created_at=e.occurred_at,
    )
    for index, step in enumerate(p.steps):
        yield _step(
            e,
            index,
            step_name=step.name,
            kind=step.kind,
            action=step.action,
            compensation=step.compensation,
            status="pending",
            attempts=0,
        )


def _step_failed(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _step(e, status="retry_scheduled" if p.retry_at else "failed", last_error=p.error)


def _compensation_started(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _saga(e, status="compensating", escalated_step="")
    yield _step(e, compensation_status="running", compensation_attempts=p.attempt, compensation_task_id=p.task_id)


def _compensation_failed(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _step(e, compensation_status="retry_scheduled" if p.retry_at else "failed", compensation_error=p.error)


def _escalated(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _saga(e, status="compensation_escalated", escalated_step=p.step_name, reason=p.prompt)
    yield _step(e, compensation_status="escalated", compensation_error=p.error)


def _finished(status: str) -> Projector:
    def project(e: Envelope[Any]) -> Iterable[RowChange]:
        p = e.payload
        columns: dict[str, Any] = {"status": status, "finished_at": e.occurred_at}
        if status != "completed":
            columns["failed_step"] = p.failed_step
        if status == "compensated":
            columns["compensated_steps"] = list(p.compensated_steps)
        if status == "failed" or (status == "compensated" and p.reason):
            columns["reason"] = p.reason
        yield _saga(e, **columns)

    return project


SAGA_PROJECTORS: dict[str, Projector] = {
    "SagaStarted": _started,
    "SagaStepStarted": lambda e: [_step(e, status="running", attempts=e.payload.attempt, task_id=e.payload.task_id)],
    "SagaStepSucceeded": lambda e: [_step(e, status="succeeded", output=e.payload.output)],
    "SagaStepFailed": _step_failed,
    "CompensationStarted": _compensation_started,
    "CompensationSucceeded": lambda e: [
        _step(e, compensation_status="compensated", compensation_manual=e.payload.manual)
    ],
    "CompensationFailed": _compensation_failed,
    "CompensationEscalated": _escalated,
    "CompensationResolved": lambda e: [_saga(e, status="compensating", escalated_step="")],
    "SagaAborted": lambda e: [_saga(e, status="aborting", reason=e.payload.reason)],
    "SagaCompleted": _finished("completed"),
    "SagaCompensated": _finished("compensated"),
    "SagaFailed": _finished("failed"),
}
