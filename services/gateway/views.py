"""What the gateway answers: accepted commands and views of the read models."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, computed_field

T = TypeVar("T")
#: How much of a dead letter's value a listing shows.
VALUE_PREVIEW_BYTES = 2000


class View(BaseModel):
    """Base of every response body: immutable, built from a read-model row."""

    model_config = ConfigDict(frozen=True)


V = TypeVar("V", bound=View)


class GoalCommandAccepted(View):
    """Kafka stored the command; its effect appears in the read models once the orchestrator acted on it."""

    goal_id: str
    event_id: uuid.UUID = Field(description="Id of the command event (follow it in the goal's timeline)")
    command: str = Field(examples=["SubmitGoal"])


class AgentCommandAccepted(View):
    """Kafka stored the command; the assigner registers the agent from it."""

    agent_id: str
    event_id: uuid.UUID
    command: str = Field(examples=["RegisterAgent"])


class Page(View, Generic[T]):
    """One page of a listing; ``next_offset`` is None on the last page."""

    items: list[T]
    limit: int
    offset: int
    next_offset: int | None


def page(
    rows: Sequence[Mapping[str, Any]],
    view: type[V],
    *,
    limit: int,
    offset: int,
    convert: Callable[[Mapping[str, Any]], V] | None = None,
) -> Page[V]:
    """A page from a query that fetched ``limit + 1`` rows: the extra row only says that another page follows.

    Rows become ``view``s through ``convert``, or by validation when the columns are the view's fields.
    """
    make = convert or view.model_validate
    more = len(rows) > limit
    return Page[
        view
    ](  # type: ignore[valid-type]
        items=[make(row) for row in rows[:limit]],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
    )


class GoalView(View):
    goal_id: str
    goal_type: str | None
    title: str | None
    status: str | None
    priority: int | None
    submitted_by: str | None
    method: str | None
    plan_source: str | None
    params: dict[str, Any] | None
    reason: str | None
    tasks_total: int | None
    tasks_succeeded: int | None
    created_at: datetime | None
    updated_at: datetime


class TaskView(View):
    """A node of a goal's DAG; ``status`` is "planned" until the task is created."""

    task_id: str
    goal_id: str
    operator: str | None
    capability: str | None
    tier: str | None
    status: str
    agent_id: str | None
    attempt: int | None
    depends_on: list[str]
    requires_approval: bool
    output: Any
    error_class: str | None
    error: str | None
    tokens_used: int | None
    duration_ms: int | None
    created_at: datetime | None
    updated_at: datetime


class ApprovalView(View):
    goal_id: str
    task_id: str
    operator: str | None
    status: str | None
    approver: str | None
    comment: str | None
    requested_at: datetime | None
    decided_at: datetime | None


class GoalDetail(GoalView):
    """A goal with its task DAG and the approvals it is waiting for."""

    tasks: list[TaskView]
    pending_approvals: list[ApprovalView]


class TimelineEvent(View):
    """One event of a goal, with the event that caused it."""

    event_id: uuid.UUID
    type: str
    version: int
    occurred_at: datetime
    producer: str
    stream_id: str
    causation_id: uuid.UUID | None
    topic: str
    partition: int
    offset: int
    payload: dict[str, Any]


class AgentView(View):
    agent_id: str
    role: str | None
    capabilities: list[str] | None
    capacity: int | None
    cost: float | None
    model: str | None
    status: str | None
    in_flight: int | None
    lease_waits: int | None = Field(
        default=None, description="Assignments waiting for file leases (they hold no slot and are not in in_flight)"
    )
    tokens_used: int | None
    breaker_state: str | None
    last_heartbeat: datetime | None
    registered_at: datetime | None
    updated_at: datetime
    stability: float | None = Field(default=None, description="Latest stability score from the drift monitor (0..1)")
    drift_status: str | None = Field(default=None, description="The drift monitor's state of the agent")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def load(self) -> float | None:
        """Share of capacity in use (in-flight tasks / capacity)."""
        if not self.capacity or self.in_flight is None:
            return None
        return self.in_flight / self.capacity


class DeadLetterView(View):
    """A rejected record, why, and where it came from; the value is previewed, not returned whole."""

    dlq_offset: int
    reason: str
    error: str
    source_topic: str
    source_partition: int
    source_offset: int
    consumer_group: str
    failed_at: datetime
    redriven: bool
    key: str | None
    value_bytes: int
    value_preview: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DeadLetterView:
        """The view of a ``dead_letters`` row; bytes are decoded leniently, since they were rejected as invalid."""
        key: bytes | None = row["key"]
        value: bytes | None = row["value"]
        fields = {k: row[k] for k in row if k not in ("key", "value")}
        return cls(
            **fields,
            key=None if key is None else key.decode(errors="replace"),
            value_bytes=len(value or b""),
            value_preview=None if value is None else value[:VALUE_PREVIEW_BYTES].decode(errors="replace"),
        )


class DeadLetterRedriven(View):
    """The dead letter's original bytes are back on their source topic (Kafka acknowledged them)."""

    dlq_offset: int
    reason: str
    source_topic: str
    redrive_count: int = Field(description="How many times this record has now been re-driven")


class ReplayedEvent(View):
    """One event of a goal as read back from Kafka, with its depth in the goal's causal tree (0: a root)."""

    event_id: uuid.UUID
    type: str
    occurred_at: datetime
    producer: str
    stream_id: str
    causation_id: uuid.UUID | None
    depth: int
    payload: dict[str, Any]


class GoalReplay(View):
    """A goal's stream re-derived from the event topics (not the read models), in timeline order."""

    goal_id: str
    source: str = Field(examples=["kafka"])
    events: list[ReplayedEvent]


class Readiness(View):
    """Each dependency's state: "ok" or why it failed."""

    ready: bool
    checks: dict[str, str]
