"""The progress of one goal through its plan: task states, what to release next, and the verdict.

Transitions are driven by events and are idempotent and order-tolerant: a transition that does not apply
(a duplicate, a stale attempt, a result for a task already finished) returns the progress unchanged, so
redelivered events are harmless and `new == old` tells the caller there is nothing to emit. Attempts are
numbered from 1; a result about an attempt older than the current one is stale (a late success excepted:
work that is done is done).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from services.orchestrator.htn.operators import Tier
from services.orchestrator.htn.plan import Plan
from services.orchestrator.tier_timeouts import TierTimeouts

TaskState = Literal[
    "pending",
    "released",
    "assigned",
    "running",  # an agent had begun it: kept by versions that followed TaskStarted, treated as "assigned"
    "succeeded",
    "failed",
    "awaiting_approval",
    "approved",
    "rejected",
    "timed_out",
    "cancelled",
]
GoalStatus = Literal["running", "succeeded", "failed", "cancelled"]

TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "rejected", "timed_out", "cancelled"})
FAILURE_STATES: frozenset[str] = frozenset({"failed", "rejected", "timed_out"})
WORKING_STATES: frozenset[str] = frozenset({"released", "assigned", "running"})
"""Handed to the assigner: an agent has it or is about to."""


class UnknownTask(KeyError):
    """An event names a step that is not part of this goal's plan."""


@dataclass(frozen=True)
class TaskProgress:
    """Where one task of the plan stands."""

    step_id: str
    depends_on: tuple[str, ...] = ()
    requires_approval: bool = False
    tier: Tier = "worker"
    state: TaskState = "pending"
    attempt: int = 1
    agent_id: str | None = None
    since: float | None = None
    """When the current attempt was assigned: the timeout clock. Counting from assignment means an agent that
    sits on a task still times out."""
    updated_at: float | None = None

    @property
    def needs_approval(self) -> bool:
        """A human must approve before this task runs (approval-tier tasks are nothing but that)."""
        return self.requires_approval or self.tier == "approval"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "step_id": self.step_id,
            "depends_on": list(self.depends_on),
            "requires_approval": self.requires_approval,
            "tier": self.tier,
            "state": self.state,
            "attempt": self.attempt,
            "agent_id": self.agent_id,
            "since": self.since,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskProgress:
        """Inverse of `to_dict`."""
        return cls(
            step_id=data["step_id"],
            depends_on=tuple(data.get("depends_on", ())),
            requires_approval=bool(data.get("requires_approval", False)),
            tier=data.get("tier", "worker"),
            state=data.get("state", "pending"),
            attempt=int(data.get("attempt", 1)),
            agent_id=data.get("agent_id"),
            since=data.get("since"),
            updated_at=data.get("updated_at"),
        )


@dataclass(frozen=True)
class GoalProgress:
    """All task states of one goal's plan, in plan order."""

    goal_id: str
    tasks: tuple[TaskProgress, ...]
    cancelled: bool = False

    @classmethod
    def from_plan(cls, goal_id: str, plan: Plan) -> GoalProgress:
        """Every task of `plan` pending."""
        return cls(
            goal_id,
            tuple(
                TaskProgress(task.step_id, task.depends_on, task.requires_approval, task.tier) for task in plan.tasks
            ),
        )

    # Queries

    def task(self, step_id: str) -> TaskProgress:
        """The progress of one step; `UnknownTask` if the plan has no such step."""
        for task in self.tasks:
            if task.step_id == step_id:
                return task
        raise UnknownTask(step_id)

    @property
    def status(self) -> GoalStatus:
        """cancelled, failed (a task failed, timed out or was rejected), succeeded (all did), or running."""
        if self.cancelled:
            return "cancelled"
        if self.failure is not None:
            return "failed"
        if all(task.state == "succeeded" for task in self.tasks):
            return "succeeded"
        return "running"

    @property
    def is_finished(self) -> bool:
        """Every task succeeded."""
        return self.status == "succeeded"

    @property
    def is_failed(self) -> bool:
        """Some task failed for good, timed out for good or was rejected."""
        return self.status == "failed"

    @property
    def failure(self) -> TaskProgress | None:
        """The first task, in plan order, whose failure sank the goal."""
        return next((task for task in self.tasks if task.state in FAILURE_STATES), None)

    def releasable(self) -> tuple[str, ...]:
        """Steps to hand to the assigner now: every dependency succeeded and no approval is outstanding.

        Nothing new is released once the goal has failed or was cancelled.
        """
        if self.status != "running":
            return ()
        return tuple(
            task.step_id
            for task in self.tasks
            if task.state == "approved" or (task.state == "pending" and not task.needs_approval and self._ready(task))
        )

    def approvals_due(self) -> tuple[str, ...]:
        """Gated steps whose dependencies all succeeded: ask a human now."""
        if self.status != "running":
            return ()
        return tuple(
            task.step_id for task in self.tasks if task.state == "pending" and task.needs_approval and self._ready(task)
        )

    def timed(self, timeouts: TierTimeouts) -> Iterator[tuple[TaskProgress, float, float]]:
        """Assigned or running tasks whose tier has a timeout (approvals have none), each with the time its clock
        started and that timeout."""
        for task in self.tasks:
            limit = timeouts.for_tier(task.tier)
            if task.state in ("assigned", "running") and task.since is not None and limit is not None:
                yield task, task.since, limit

    def overdue(self, now: float, timeouts: TierTimeouts) -> tuple[TaskProgress, ...]:
        """Assigned or running tasks whose tier timeout has elapsed at `now` (approvals never are)."""
        return tuple(task for task, since, limit in self.timed(timeouts) if now - since >= limit)

    def counts(self) -> dict[str, int]:
        """How many tasks are in each state (states with none are left out)."""
        return dict(Counter(task.state for task in self.tasks))

    def _ready(self, task: TaskProgress) -> bool:
        states = {other.step_id: other.state for other in self.tasks}
        return all(states.get(dep) == "succeeded" for dep in task.depends_on)

    # Transitions

    def release(self, step_id: str, now: float) -> GoalProgress:
        """Hand a releasable step to the assigner."""
        if step_id not in self.releasable():
            return self._checked(step_id)
        return self._update(step_id, state="released", updated_at=now)

    def release_saga(self, step_ids: tuple[str, ...], now: float) -> GoalProgress:
        """Hand the pending steps of one saga to the saga coordinator together (it runs them in order)."""
        progress = self
        for step_id in step_ids:
            if progress.task(step_id).state == "pending":
                progress = progress._update(step_id, state="released", updated_at=now)
        return progress

    def request_approval(self, step_id: str, now: float) -> GoalProgress:
        """A human was asked to approve a gated step whose dependencies succeeded."""
        if step_id not in self.approvals_due():
            return self._checked(step_id)
        return self._update(step_id, state="awaiting_approval", updated_at=now)

    def approve(self, step_id: str, now: float) -> GoalProgress:
        """The human approved: the step can be released (an approval-tier step is thereby done)."""
        task = self.task(step_id)
        if task.state != "awaiting_approval" or self.status != "running":
            return self
        return self._update(step_id, state="succeeded" if task.tier == "approval" else "approved", updated_at=now)

    def reject(self, step_id: str, now: float) -> GoalProgress:
        """The human rejected the step; the goal fails."""
        if self.task(step_id).state != "awaiting_approval" or self.status != "running":
            return self
        return self._update(step_id, state="rejected", updated_at=now)

    def assign(self, step_id: str, agent_id: str, attempt: int, now: float) -> GoalProgress:
        """The assigner gave `attempt` of the step to an agent; its timeout clock starts."""
        task = self.task(step_id)
        fresh = task.state == "released" and attempt >= task.attempt
        newer = task.state in ("assigned", "running") and attempt > task.attempt
        if not (fresh or newer):
            return self
        return self._update(step_id, state="assigned", attempt=attempt, agent_id=agent_id, since=now, updated_at=now)

    def succeed(self, step_id: str, attempt: int, now: float) -> GoalProgress:
        """An attempt of the step succeeded (a late success of an earlier attempt counts too)."""
        if self.task(step_id).state not in WORKING_STATES:
            return self
        return self._update(step_id, state="succeeded", updated_at=now)

    def fail(self, step_id: str, attempt: int, now: float, *, final: bool) -> GoalProgress:
        """`attempt` failed. If `final` (no retry left, per the retry policy) the goal fails; otherwise the
        step goes back to `released` as attempt + 1, waiting for the scheduled retry."""
        return self._end_attempt(step_id, attempt, now, "failed", final)

    def time_out(self, step_id: str, attempt: int, now: float, *, final: bool) -> GoalProgress:
        """`attempt` passed its tier timeout; `final` as for `fail`."""
        return self._end_attempt(step_id, attempt, now, "timed_out", final)

    def cancel(self, now: float) -> GoalProgress:
        """Stop the goal: unfinished tasks are cancelled. No effect once the goal has finished or failed."""
        if self.status != "running":
            return self
        return replace(
            self,
            cancelled=True,
            tasks=tuple(
                task if task.state in TERMINAL_STATES else replace(task, state="cancelled", updated_at=now)
                for task in self.tasks
            ),
        )

    def _end_attempt(self, step_id: str, attempt: int, now: float, state: TaskState, final: bool) -> GoalProgress:
        task = self.task(step_id)
        if task.state not in WORKING_STATES or attempt < task.attempt:
            return self
        if final:
            return self._update(step_id, state=state, attempt=attempt, updated_at=now)
        return self._update(step_id, state="released", attempt=attempt + 1, agent_id=None, since=None, updated_at=now)

    def _checked(self, step_id: str) -> GoalProgress:
        self.task(step_id)
        return self

    def _update(self, step_id: str, **changes: Any) -> GoalProgress:
        return replace(
            self,
            tasks=tuple(replace(task, **changes) if task.step_id == step_id else task for task in self.tasks),
        )

    # Serialisation

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {"goal_id": self.goal_id, "cancelled": self.cancelled, "tasks": [t.to_dict() for t in self.tasks]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GoalProgress:
        """Inverse of `to_dict`."""
        return cls(
            data["goal_id"],
            tuple(TaskProgress.from_dict(task) for task in data["tasks"]),
            bool(data.get("cancelled", False)),
        )
