"""Plans: the task DAG a goal decomposes into, and the two ways planning can come back empty-handed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from services.orchestrator.htn.operators import Tier

PlanSource = Literal["method", "agent"]


@dataclass(frozen=True)
class PlannedTask:
    """One primitive task of a plan; `step_id` is unique within the plan and stable across re-planning."""

    step_id: str
    operator: str
    capability: str
    depends_on: tuple[str, ...] = ()
    requires_approval: bool = False
    tier: Tier = "worker"
    inputs: Mapping[str, Any] = field(default_factory=dict)
    saga: str | None = None
    compensation: str | None = None
    """The operator undoing this step when its saga compensates (saga steps only)."""
    method: str | None = None
    """The (innermost) method that produced this step; None for agent-written plans. Re-plan without it
    when this step fails."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "step_id": self.step_id,
            "operator": self.operator,
            "capability": self.capability,
            "depends_on": list(self.depends_on),
            "requires_approval": self.requires_approval,
            "tier": self.tier,
            "inputs": dict(self.inputs),
            "saga": self.saga,
            "compensation": self.compensation,
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlannedTask:
        """Inverse of `to_dict`."""
        return cls(
            step_id=data["step_id"],
            operator=data["operator"],
            capability=data["capability"],
            depends_on=tuple(data.get("depends_on", ())),
            requires_approval=bool(data.get("requires_approval", False)),
            tier=data.get("tier", "worker"),
            inputs=dict(data.get("inputs", {})),
            saga=data.get("saga"),
            compensation=data.get("compensation"),
            method=data.get("method"),
        )


@dataclass(frozen=True)
class Plan:
    """A DAG of primitive tasks, listed in a deterministic topological order (dependencies first)."""

    goal_type: str
    method: str
    """The top-level method used, or `AGENT_PLAN_METHOD` for a validated agent-written plan."""
    tasks: tuple[PlannedTask, ...]
    source: PlanSource = "method"
    excluded_methods: tuple[str, ...] = ()
    """Methods the planner was told not to use; pass them on to the next `replan`."""

    @property
    def step_ids(self) -> tuple[str, ...]:
        """The step ids, in plan order."""
        return tuple(task.step_id for task in self.tasks)

    @property
    def methods_used(self) -> tuple[str, ...]:
        """Every method that contributed a step, outermost first, without repeats."""
        used = [self.method] if self.source == "method" else []
        for task in self.tasks:
            if task.method is not None and task.method not in used:
                used.append(task.method)
        return tuple(used)

    def task(self, step_id: str) -> PlannedTask:
        """The task with this step id; KeyError if the plan has none."""
        for task in self.tasks:
            if task.step_id == step_id:
                return task
        raise KeyError(step_id)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "goal_type": self.goal_type,
            "method": self.method,
            "source": self.source,
            "excluded_methods": list(self.excluded_methods),
            "tasks": [task.to_dict() for task in self.tasks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Inverse of `to_dict`."""
        return cls(
            goal_type=data["goal_type"],
            method=data["method"],
            tasks=tuple(PlannedTask.from_dict(task) for task in data["tasks"]),
            source=data.get("source", "method"),
            excluded_methods=tuple(data.get("excluded_methods", ())),
        )


AGENT_PLAN_METHOD = "agent_plan"


@dataclass(frozen=True)
class NoMethodApplies:
    """No method could decompose the goal; the orchestrator asks a planner agent instead."""

    goal_type: str
    reasons: tuple[str, ...]
    """Why each method was not used, e.g. `method 'm': parameter 'x' is missing (expected True)`."""


@dataclass(frozen=True)
class PlanRejection:
    """An agent-written plan failed validation; every reason names the offending step and rule."""

    reasons: tuple[str, ...]
