"""What each event changes in the read models: pure functions from an envelope to row changes.

A change names a table, the row's key and the columns it sets; columns it does not name stay as they are.
The writer folds a batch's changes per row (later events win) and upserts them, so replay and live
processing run exactly this code.

Each column is written from one topic only, because Kafka orders records within a partition, not across
topics: a task's ``status`` comes only from ``architect.tasks.events``, so a plan or an approval (on
``architect.goals.events``) read later can never overwrite a newer task state. A task row that exists only
because its goal was planned has ``status`` NULL, which readers show as "planned"; gate decisions live in the
``approvals`` table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any, NamedTuple

from pydantic_core import to_json

from shared.events.envelope import Envelope

Columns = dict[str, Any]


class RowChange(NamedTuple):
    """One event's change to one row (a named tuple: a rebuild makes hundreds of thousands of them)."""

    table: str
    key: tuple[str, ...]
    columns: Columns


#: Key columns and every column of each read-model table, in table order.
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "goals": (
        ("goal_id",),
        (
            "goal_id",
            "goal_type",
            "title",
            "status",
            "priority",
            "submitted_by",
            "method",
            "plan_source",
            "params",
            "reason",
            "tasks_total",
            "tasks_succeeded",
            "created_at",
            "updated_at",
        ),
    ),
    "tasks": (
        ("task_id",),
        (
            "task_id",
            "goal_id",
            "operator",
            "capability",
            "tier",
            "status",
            "agent_id",
            "attempt",
            "depends_on",
            "requires_approval",
            "output",
            "error_class",
            "error",
            "tokens_used",
            "duration_ms",
            "created_at",
            "updated_at",
        ),
    ),
    "agents": (
        ("agent_id",),
        (
            "agent_id",
            "role",
            "capabilities",
            "capacity",
            "cost",
            "model",
            "status",
            "in_flight",
            "lease_waits",
            "tokens_used",
            "breaker_state",
            "last_heartbeat",
            "registered_at",
            "updated_at",
        ),
    ),
    "approvals": (
        ("goal_id", "task_id"),
        ("goal_id", "task_id", "operator", "status", "approver", "comment", "requested_at", "decided_at"),
    ),
}
JSON_COLUMNS = {"params", "depends_on", "output", "capabilities"}
#: Columns every topic touches; they keep the latest value seen (a max commutes, so arrival order across topics
#: cannot change the result and a rebuild equals the live projection).
LATEST_COLUMNS = {"updated_at"}

Projector = Callable[[Envelope[Any]], Iterable[RowChange]]


def _goal(e: Envelope[Any], **columns: Any) -> RowChange:
    return RowChange("goals", (e.payload.goal_id,), {"updated_at": e.occurred_at, **columns})


def _task(e: Envelope[Any], task_id: str | None = None, **columns: Any) -> RowChange:
    p = e.payload
    return RowChange("tasks", (task_id or p.task_id,), {"goal_id": p.goal_id, "updated_at": e.occurred_at, **columns})


def _agent(e: Envelope[Any], **columns: Any) -> RowChange:
    return RowChange("agents", (e.payload.agent_id,), {"updated_at": e.occurred_at, **columns})


def _approval(e: Envelope[Any], **columns: Any) -> RowChange:
    return RowChange("approvals", (e.payload.goal_id, e.payload.task_id), columns)


def _goal_submitted(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _goal(
        e,
        goal_type=p.goal_type,
        title=p.title,
        params=p.params,
        priority=p.priority,
        submitted_by=p.submitted_by,
        status="submitted",
        created_at=e.occurred_at,
    )


def _goal_planned(e: Envelope[Any]) -> Iterable[RowChange]:
    p = e.payload
    yield _goal(e, method=p.method, plan_source=p.source, tasks_total=len(p.tasks), status="planned")
    for t in p.tasks:
        yield _task(
            e,
            t.task_id,
            operator=t.operator,
            capability=t.capability,
            tier=t.tier,
            depends_on=list(t.depends_on),
            requires_approval=t.requires_approval,
        )


def _approval_requested(e: Envelope[Any]) -> Iterable[RowChange]:
    yield _approval(e, operator=e.payload.operator, status="pending", requested_at=e.occurred_at)


def _approval_decided(status: str) -> Projector:
    def project(e: Envelope[Any]) -> Iterable[RowChange]:
        p = e.payload
        note = getattr(p, "comment", "") or getattr(p, "reason", "")
        yield _approval(e, status=status, approver=p.approver, comment=note, decided_at=e.occurred_at)

    return project


def _task_status(status: str, **extract: Callable[[Any], Any]) -> Projector:
    def project(e: Envelope[Any]) -> Iterable[RowChange]:
        yield _task(e, status=status, **{column: get(e.payload) for column, get in extract.items()})

    return project


PROJECTORS: dict[str, Projector] = {
    "GoalSubmitted": _goal_submitted,
    "GoalPlanned": _goal_planned,
    "PlanRejected": lambda e: [_goal(e, reason="; ".join(e.payload.reasons))],
    "GoalCompleted": lambda e: [_goal(e, status="completed", tasks_succeeded=e.payload.tasks_succeeded)],
    "GoalFailed": lambda e: [_goal(e, status="failed", reason=e.payload.reason)],
    "GoalCancelled": lambda e: [_goal(e, status="cancelled", reason=e.payload.reason)],
    "ApprovalRequested": _approval_requested,
    "ApprovalGranted": _approval_decided("approved"),
    "ApprovalRejected": _approval_decided("rejected"),
    "TaskCreated": lambda e: [
        _task(
            e,
            operator=e.payload.operator,
            capability=e.payload.capability,
            tier=e.payload.tier,
            # The plan (GoalPlanned) is the DAG's source; a task event only fills it in for tasks no plan listed.
            depends_on=list(e.payload.depends_on) or None,
            status="pending",
            created_at=e.occurred_at,
        )
    ],
    "TaskAssigned": _task_status("assigned", agent_id=lambda p: p.agent_id, attempt=lambda p: p.attempt),
    "TaskStarted": _task_status("running", agent_id=lambda p: p.agent_id, attempt=lambda p: p.attempt),
    "TaskSucceeded": _task_status(
        "succeeded",
        agent_id=lambda p: p.agent_id,
        output=lambda p: p.output,
        tokens_used=lambda p: p.tokens_used,
        duration_ms=lambda p: p.duration_ms,
    ),
    "TaskFailed": _task_status(
        "failed",
        agent_id=lambda p: p.agent_id,
        error_class=lambda p: p.error_class,
        error=lambda p: p.error,
        duration_ms=lambda p: p.duration_ms,
    ),
    "TaskTimedOut": _task_status("timed_out", attempt=lambda p: p.attempt),
    "TaskRetryScheduled": _task_status("retry_scheduled", attempt=lambda p: p.attempt),
    "AgentRegistered": lambda e: [
        _agent(
            e,
            role=e.payload.role,
            capabilities=list(e.payload.capabilities),
            capacity=e.payload.capacity,
            cost=e.payload.cost,
            model=e.payload.model,
            status="registered",
            in_flight=0,
            registered_at=e.occurred_at,
        )
    ],
    "AgentDeregistered": lambda e: [_agent(e, status="deregistered")],
    "AgentStopped": lambda e: [_agent(e, status="stopped", in_flight=0, lease_waits=0)],
    "AgentHeartbeat": lambda e: [
        _agent(
            e,
            status="alive",
            in_flight=e.payload.in_flight,
            lease_waits=e.payload.lease_waits,
            tokens_used=e.payload.tokens_used,
            last_heartbeat=e.occurred_at,
        )
    ],
    "BreakerStateChanged": lambda e: [_agent(e, breaker_state=e.payload.state)],
}


def changes_for(envelope: Envelope[Any]) -> list[RowChange]:
    """Row changes of one event; types without a projection change only the event log."""
    projector = PROJECTORS.get(envelope.type)
    return list(projector(envelope)) if projector else []


def fold(changes: Iterable[RowChange]) -> dict[str, dict[tuple[str, ...], Columns]]:
    """Merge changes per table and row, in order, so each row is written once per batch."""
    folded: dict[str, dict[tuple[str, ...], Columns]] = {}
    for table, key, columns in changes:
        rows = folded.get(table)
        if rows is None:
            rows = folded[table] = {}
        row = rows.get(key)
        if row is None:
            rows[key] = dict(columns)  # the first change of a row sets exactly its columns
            continue
        for column, value in columns.items():
            if value is None:
                row.setdefault(column, None)  # None keeps what is there, in a batch as in the upsert (COALESCE)
                continue
            if column in LATEST_COLUMNS:
                held = row.get(column)
                if held is not None and not value > held:
                    continue  # latest wins: the max, as in the upsert (GREATEST)
            row[column] = value
    return folded


def row_values(table: str, key: tuple[str, ...], columns: Columns) -> tuple[Any, ...]:
    """One full row in table order; unnamed columns are None (meaning: keep what is stored). JSON columns are
    serialised by pydantic-core (several times faster than ``json.dumps``; Postgres stores them as jsonb, so only
    the value counts)."""
    all_columns, key_positions, json_positions = _layout(table)
    values = list(map(columns.get, all_columns))
    for position, value in zip(key_positions, key, strict=True):
        if all_columns[position] not in columns:
            values[position] = value
    for position in json_positions:
        if values[position] is not None:
            values[position] = to_json(values[position]).decode()
    return tuple(values)


@cache
def _layout(table: str) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
    """A table's columns, the positions of its key columns (in key order) and of its JSON columns."""
    key_columns, all_columns = TABLES[table]
    return (
        all_columns,
        tuple(all_columns.index(c) for c in key_columns),
        tuple(i for i, c in enumerate(all_columns) if c in JSON_COLUMNS),
    )


# Saga read models live in their own module; registered here so the writer, rebuild and tests see every table.
from services.projector.saga_projections import SAGA_JSON_COLUMNS, SAGA_PROJECTORS, SAGA_TABLES  # noqa: E402

TABLES.update(SAGA_TABLES)
PROJECTORS.update(SAGA_PROJECTORS)
JSON_COLUMNS |= SAGA_JSON_COLUMNS

# Drift read models (agent stability and the alert history), registered the same way.
from services.projector.drift_projections import DRIFT_JSON_COLUMNS, DRIFT_PROJECTORS, DRIFT_TABLES  # noqa: E402

TABLES.update(DRIFT_TABLES)
PROJECTORS.update(DRIFT_PROJECTORS)
JSON_COLUMNS |= DRIFT_JSON_COLUMNS

# Decision read models (decisions, rounds, votes with weights and rationales, debate contributions).
from services.projector.decision_projections import (  # noqa: E402
    DECISION_JSON_COLUMNS,
    DECISION_PROJECTORS,
    DECISION_TABLES,
)

TABLES.update(DECISION_TABLES)
PROJECTORS.update(DECISION_PROJECTORS)
JSON_COLUMNS |= DECISION_JSON_COLUMNS
