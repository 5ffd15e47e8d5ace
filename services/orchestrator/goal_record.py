"""Everything the orchestrator remembers about one goal (the value of its goals table)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from services.orchestrator.goal_progress import GoalProgress
from services.orchestrator.htn import Plan
from services.orchestrator.timeout_checks import TimeoutCheck

DECOMPOSE_OPERATOR = "decompose"
PLANNING_CAPABILITY = "planning"


@dataclass(frozen=True)
class GoalRecord:
    goal_id: str
    goal_type: str
    params: Mapping[str, Any] = field(default_factory=dict)
    priority: int = 0
    status: str = "planning"
    """planning (no plan yet), running, completed, failed, cancelled."""
    revision: int = 0
    """Bumped when the goal is re-planned; task ids carry it so a new plan never collides with an old one."""
    plan: Plan | None = None
    progress: GoalProgress | None = None
    planner_attempts: int = 0
    excluded_methods: tuple[str, ...] = ()
    timeout_check: TimeoutCheck | None = None
    """The goal's pending timeout check (see ``timeout_checks``); None when none is pending, or in records
    kept by versions that scheduled a check per attempt."""
    running_sagas: tuple[str, ...] = ()
    """The sagas started for the goal's steps that have not ended, of any plan revision (cancelling the goal aborts
    them). Records kept by earlier versions lack it; their current revision's running sagas are found by plan."""

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    def task_id(self, step_id: str) -> str:
        return f"{self.goal_id}/{step_id}" if self.revision == 0 else f"{self.goal_id}/r{self.revision}/{step_id}"

    def decompose_task_id(self) -> str:
        return f"{self.goal_id}/decompose-{self.planner_attempts}"

    def step_of(self, task_id: str) -> str | None:
        """The plan step a task id belongs to in the current revision (None: another revision, or not a step)."""
        prefix = self.task_id("")
        if not task_id.startswith(prefix) or self.plan is None:
            return None
        step = task_id[len(prefix) :]
        return step if step in self.plan.step_ids else None

    def with_(self, **changes: Any) -> GoalRecord:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "goal_id": self.goal_id,
            "goal_type": self.goal_type,
            "params": dict(self.params),
            "priority": self.priority,
            "status": self.status,
            "revision": self.revision,
            "plan": self.plan.to_dict() if self.plan else None,
            "progress": self.progress.to_dict() if self.progress else None,
            "planner_attempts": self.planner_attempts,
            "excluded_methods": list(self.excluded_methods),
            "timeout_check": self.timeout_check.to_dict() if self.timeout_check else None,
        } | ({"running_sagas": list(self.running_sagas)} if self.running_sagas else {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GoalRecord:
        return cls(
            goal_id=data["goal_id"],
            goal_type=data["goal_type"],
            params=dict(data.get("params", {})),
            priority=int(data.get("priority", 0)),
            status=data.get("status", "planning"),
            revision=int(data.get("revision", 0)),
            plan=Plan.from_dict(data["plan"]) if data.get("plan") else None,
            progress=GoalProgress.from_dict(data["progress"]) if data.get("progress") else None,
            planner_attempts=int(data.get("planner_attempts", 0)),
            excluded_methods=tuple(data.get("excluded_methods", ())),
            timeout_check=TimeoutCheck.from_dict(data["timeout_check"]) if data.get("timeout_check") else None,
            running_sagas=tuple(data.get("running_sagas", ())),
        )
