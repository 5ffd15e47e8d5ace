"""Tasks: units of work for agents, and their lifecycle from creation to outcome."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.bus.topics import DECISIONS_COMMANDS, SAGAS_COMMANDS, TASKS_EVENTS
from shared.events.catalogue.goals import Tier
from shared.events.envelope import Payload
from shared.events.spec import EventSpec

#: ``lock_conflict`` (v2 of TaskFailed and TaskAbandoned): the task waited too long for file leases another holds;
#: nothing is wrong with the agent, so it is retried without counting against the agent's circuit breaker.
ErrorClass = Literal["timeout", "rate_limit", "auth", "crash", "invalid", "budget", "lock_conflict"]
#: The topics a task's creator may name in ``TaskCreated.reply_to`` (``shared/bus/replies.py``): the saga
#: coordinator's and the consensus engine's command topics, so neither reads the whole task topic.
ReplyTopic = Literal["architect.sagas.commands", "architect.decisions.commands"]
REPLY_TOPICS: frozenset[str] = frozenset({SAGAS_COMMANDS, DECISIONS_COMMANDS})


class TaskCreated(Payload):
    task_id: str
    goal_id: str
    operator: str
    capability: str
    tier: Tier = "worker"
    inputs: dict[str, Any] = Field(default_factory=dict)
    priority: int = 0
    depends_on: list[str] = Field(default_factory=list)
    timeout_s: float | None = None
    strategy: Literal["least_loaded", "priority", "auction", "drift_aware"] = "least_loaded"
    #: Where the task's outcome (TaskSucceeded, TaskAbandoned) is also published, besides the task topic: the
    #: command topic of the service that created the task. None: only on the task topic.
    reply_to: ReplyTopic | None = None


class TaskAssigned(Payload):
    task_id: str
    goal_id: str
    agent_id: str
    attempt: int = Field(default=1, ge=1)
    strategy: str = "least_loaded"
    backup_for: str | None = None


class TaskStarted(Payload):
    task_id: str
    goal_id: str
    agent_id: str
    attempt: int = 1


class TaskSucceeded(Payload):
    task_id: str
    goal_id: str
    agent_id: str
    attempt: int = 1
    output: dict[str, Any] = Field(default_factory=dict)
    tokens_used: int = Field(default=0, ge=0)
    duration_ms: int = Field(default=0, ge=0)


class TaskFailed(Payload):
    task_id: str
    goal_id: str
    agent_id: str
    attempt: int = 1
    error_class: ErrorClass
    error: str = ""
    duration_ms: int = Field(default=0, ge=0)


class TaskTimedOut(Payload):
    task_id: str
    goal_id: str
    attempt: int = 1
    timeout_s: float


class TaskRetryScheduled(Payload):
    task_id: str
    goal_id: str
    attempt: int
    delay_s: float
    reason: str = ""


class TaskAbandoned(Payload):
    """No more retries: the orchestrator replans or fails the goal."""

    task_id: str
    goal_id: str
    attempt: int
    error_class: ErrorClass
    reason: str = ""


class TaskEscalated(Payload):
    task_id: str
    goal_id: str
    to_role: str = "manager"
    reason: str = ""


class TaskTimeoutElapsed(Payload):
    """Delivered by the scheduler when an attempt's tier timeout has passed (it may have finished since)."""

    task_id: str
    goal_id: str
    attempt: int


class TaskRetryDue(Payload):
    """Delivered by the scheduler when a retry's backoff has passed."""

    task_id: str
    goal_id: str
    attempt: int


def _event(payload: type[Payload], owner: str, description: str, version: int = 1) -> EventSpec:
    return EventSpec(payload.__name__, version, payload, TASKS_EVENTS, "event", owner, description)


SPECS: tuple[EventSpec, ...] = (
    _event(TaskCreated, "orchestrator", "A task of a goal's plan exists and waits for its dependencies."),
    _event(TaskAssigned, "assigner", "A task was given to an agent."),
    _event(TaskStarted, "agent-runtime", "An agent began a task."),
    _event(TaskSucceeded, "agent-runtime", "An agent finished a task, with its output and usage."),
    _event(TaskFailed, "agent-runtime", "An agent could not finish a task; error_class decides the retry.", 2),
    _event(TaskTimedOut, "orchestrator", "A task passed its tier's timeout."),
    _event(TaskRetryScheduled, "assigner", "A failed task will be offered again after a delay."),
    _event(TaskAbandoned, "assigner", "A task failed for good (retries exhausted or not retryable).", 2),
    _event(TaskEscalated, "assigner", "No healthy agent could take a task; a manager must."),
    _event(TaskTimeoutElapsed, "orchestrator", "A scheduled timeout check for one attempt came due."),
    _event(TaskRetryDue, "assigner", "A scheduled retry came due."),
)
