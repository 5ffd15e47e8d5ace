"""One scheduled timeout check per goal, not one per task attempt (pure).

A task's tier timeout runs from its assignment. Rather than scheduling a check for every attempt (a record on
the scheduler's topics per task, and a ``TaskTimeoutElapsed`` to handle half an hour later for nearly every
task, long after it succeeded), a goal keeps at most one check pending: for the working task whose timeout
ends first. An assignment schedules a check only when its own deadline comes before the pending one (or none
is pending). When the pending check fires, every overdue task of the goal times out and the check for the
next deadline is scheduled. A goal whose tasks all end in time has one check in all, which finds it finished.

The check is a ``TaskTimeoutElapsed`` naming the task and attempt it was scheduled for; that names the pending
check. One that does not match (scheduled by a version that checked every attempt) still times out what is
overdue, and schedules nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.orchestrator.goal_progress import GoalProgress, TaskProgress
from services.orchestrator.tier_timeouts import TierTimeouts


@dataclass(frozen=True)
class TimeoutCheck:
    """The goal's pending timeout check: scheduled for ``attempt`` of ``task_id``, due at ``due`` (epoch s)."""

    task_id: str
    attempt: int
    due: float

    def is_for(self, task_id: str, attempt: int) -> bool:
        return (self.task_id, self.attempt) == (task_id, attempt)

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "attempt": self.attempt, "due": self.due}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TimeoutCheck:
        return cls(str(data["task_id"]), int(data["attempt"]), float(data["due"]))


def first_deadline(progress: GoalProgress, timeouts: TierTimeouts) -> tuple[TaskProgress, float] | None:
    """The working task whose tier timeout ends first, and when (None: no working task has a timeout)."""
    first: tuple[TaskProgress, float] | None = None
    for task in progress.tasks:
        limit = timeouts.for_tier(task.tier)
        if task.state not in ("assigned", "running") or task.since is None or limit is None:
            continue
        deadline = task.since + limit
        if first is None or deadline < first[1]:
            first = (task, deadline)
    return first


def needs_new_check(pending: TimeoutCheck | None, deadline: float) -> bool:
    """Whether a task whose timeout ends at ``deadline`` needs a check of its own: none is pending, or the pending
    one is due later (one due earlier, even if overdue and not yet delivered, schedules the next when it fires)."""
    return pending is None or deadline < pending.due
