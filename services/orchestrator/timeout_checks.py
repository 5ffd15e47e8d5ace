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

Two guards keep a goal's timeouts from going quiet:
- A check is never scheduled less than ``MIN_DELAY_S`` ahead. A check that the scheduler's clock (ahead of
  this one) delivers before its deadline is scheduled again: without the floor it would come straight back,
  over and over, until this clock caught up.
- The record and the scheduled check are written separately, so a crash can keep one without the other. The
  event whose handling scheduled the pending check schedules it again when delivered again (same event id, so
  the scheduler keeps one timer), and a pending check ``LOST_AFTER_S`` past its due time counts as lost: the
  next assignment schedules its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.orchestrator.goal_progress import GoalProgress, TaskProgress
from services.orchestrator.tier_timeouts import TierTimeouts

#: The shortest delay a check is scheduled with (seconds).
MIN_DELAY_S = 1.0
#: How long past its due time a pending check that never arrived counts as lost (seconds).
LOST_AFTER_S = 60.0


@dataclass(frozen=True)
class TimeoutCheck:
    """The goal's pending timeout check: scheduled for ``attempt`` of ``task_id``, due at ``due`` (epoch s), by
    the handling of the event ``scheduled_by``."""

    task_id: str
    attempt: int
    due: float
    scheduled_by: str = ""

    def is_for(self, task_id: str, attempt: int) -> bool:
        return (self.task_id, self.attempt) == (task_id, attempt)

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "attempt": self.attempt, "due": self.due, "scheduled_by": self.scheduled_by}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TimeoutCheck:
        return cls(str(data["task_id"]), int(data["attempt"]), float(data["due"]), str(data.get("scheduled_by", "")))


def first_deadline(progress: GoalProgress, timeouts: TierTimeouts) -> tuple[TaskProgress, float] | None:
    """The working task whose tier timeout ends first, and when (None: no working task has a timeout)."""
    deadlines = ((task, since + limit) for task, since, limit in progress.timed(timeouts))
    return min(deadlines, key=lambda deadline: deadline[1], default=None)


def needs_new_check(pending: TimeoutCheck | None, deadline: float, now: float) -> bool:
    """Whether a task whose timeout ends at ``deadline`` needs a check of its own: none is pending, the pending one
    is due later, or it is lost (one due earlier and merely late schedules the next when it fires)."""
    return pending is None or deadline < pending.due or pending.due < now - LOST_AFTER_S


def check_delay(deadline: float, now: float) -> float:
    """The delay to schedule a check for ``deadline`` with."""
    return max(deadline - now, MIN_DELAY_S)
